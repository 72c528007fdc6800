"""Netfilter over the `nft` command (nftables' own CLI, Debian package nftables).

`nft -f -` reads a script and commits it as one transaction, so driving the
command is as atomic as libnftables and needs nothing in the agent's Python
environment (python3-nftables lives in the system Python only). `netns`
runs it in a named network namespace (`ip netns exec`), for tests; the agent
runs nft in its own namespace, the node's.
"""

from __future__ import annotations

import asyncio
import json
import shutil

from agent.proxy import NftError
from agent.proxy.rules import FAMILY, TABLE
from agent.proxy.transaction import Existing


class NftCommand:
    def __init__(self, netns: str = "", binary: str = "") -> None:
        self.binary = binary or shutil.which("nft") or "/usr/sbin/nft"
        self.prefix = ["ip", "netns", "exec", netns] if netns else []

    @staticmethod
    def installed() -> bool:
        return shutil.which("nft") is not None or shutil.which("nft", path="/usr/sbin:/sbin") \
            is not None

    async def _run(self, *args: str, stdin: str = "") -> str:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.prefix, self.binary, *args, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as e:
            raise NftError(f"cannot run nft ({self.binary}): {e}; install nftables") from e
        out, err = await proc.communicate(stdin.encode())
        if proc.returncode != 0:
            raise NftError(f"nft {' '.join(args)} failed: {err.decode(errors='replace')[:2000]}")
        return out.decode()

    async def apply(self, script: str) -> None:
        if script:
            await self._run("-f", "-", stdin=script)

    async def existing(self) -> Existing | None:
        """Our table's chain and set names (None: no table). Listing the chains and the
        sets alone is ~20 times cheaper than the whole table with its rules."""
        found = Existing()
        chains = json.loads(await self._run("-j", "list", "chains", FAMILY))
        for item in chains.get("nftables", []):
            if item.get("chain", {}).get("table") == TABLE:
                found.chains.add(item["chain"]["name"])
        if not found.chains:            # our table always has its base chains
            return None
        sets = json.loads(await self._run("-t", "-j", "list", "sets", FAMILY))
        for item in sets.get("nftables", []):
            if item.get("set", {}).get("table") == TABLE:
                found.sets.add(item["set"]["name"])
        return found

    async def delete_table(self) -> None:
        try:
            await self._run("delete", "table", FAMILY, TABLE)
        except NftError as e:
            if "No such file or directory" not in str(e):
                raise
