"""What the proxier needs from the node's kernel (real: nft.py, conntrack.py; the unit
tests use fakes). Everything happens in the network namespace the agent runs in."""

from __future__ import annotations

from typing import Protocol

from agent.proxy.transaction import Existing


class Netfilter(Protocol):
    async def apply(self, script: str) -> None:
        """Run one nft script as a single transaction (NftError if refused)."""
        ...

    async def existing(self) -> Existing | None:
        """The chains and sets of our table; None when there is no table."""
        ...

    async def delete_table(self) -> None: ...


class Conntrack(Protocol):
    async def flush_udp(self, orig_dst: str = "", orig_port: int = 0,
                        dst_nat: str = "") -> None:
        """Delete UDP flows to orig_dst[:orig_port] (that were DNATed to dst_nat)."""
        ...
