"""Conntrack over the `conntrack` command (Debian package conntrack).

A UDP "connection" is a conntrack entry that lives as long as packets keep
coming: when an endpoint goes, a client that keeps sending would keep reaching
the old address. kube-proxy deletes those entries; so do we. An entry that
is not there is not an error (`conntrack -D` then exits 1 with "0 flow entries").
"""

from __future__ import annotations

import asyncio
import shutil

from agent.proxy import ConntrackError


class ConntrackCommand:
    def __init__(self, netns: str = "", binary: str = "") -> None:
        self.binary = binary or shutil.which("conntrack") or "/usr/sbin/conntrack"
        self.prefix = ["ip", "netns", "exec", netns] if netns else []

    async def flush_udp(self, orig_dst: str = "", orig_port: int = 0,
                        dst_nat: str = "") -> None:
        args = ["-D", "-p", "udp"]
        if orig_dst:
            args += ["--orig-dst", orig_dst]
        if orig_port:
            args += ["--orig-port-dst", str(orig_port)]
        if dst_nat:
            args += ["--dst-nat", dst_nat]
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.prefix, self.binary, *args, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
        except OSError as e:
            raise ConntrackError(f"cannot run conntrack ({self.binary}): {e}; install "
                                 "conntrack") from e
        _, err = await proc.communicate()
        text = err.decode(errors="replace")
        if proc.returncode not in (0, 1) or (proc.returncode == 1 and "0 flow" not in text):
            raise ConntrackError(f"conntrack {' '.join(args)} failed: {text.strip()[:500]}")
