"""The zygote's socket and the checks both ends share (zygote.py, zygote_client.py).

Light on purpose: the agent imports it without the zygote's preloads, and
the zygote without ``socket`` (whose enum import would grow every shim).
"""

from __future__ import annotations

import _socket
import os
import sys

SOCKET_NAME = "zygote.sock"


def sockaddr(path: str) -> tuple[str, int]:
    """An address short enough for sun_path (108 bytes): through an O_PATH dir fd
    when the path is long.  Returns (address, dir fd or -1 to close afterwards)."""
    if len(path.encode()) < 100:
        return path, -1
    head, name = os.path.split(path)
    fd = os.open(head, os.O_PATH | os.O_CLOEXEC)
    return f"/proc/self/fd/{fd}/{name}", fd


def code_stamp() -> dict[str, int]:
    """mtime of every ``agent.*`` module this process has loaded."""
    out: dict[str, int] = {}
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None)
        if name.startswith("agent.") and path:
            try:
                out[path] = os.stat(path).st_mtime_ns
            except OSError:
                out[path] = -1
    return out


def peer(conn: _socket.socket) -> tuple[int, int]:
    """(pid, uid) of the connected client."""
    raw = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return int.from_bytes(raw[:4], sys.byteorder), int.from_bytes(raw[4:8], sys.byteorder)


def same_mount_ns(pid: int) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/mnt").st_ino == os.stat("/proc/self/ns/mnt").st_ino
    except OSError:
        return False


def own_cgroup_procs(cgroup_root: str = "/sys/fs/cgroup") -> str:
    """The ``cgroup.procs`` of this process's own cgroup in one hierarchy ("" if none).

    Writing our pid there moves us nowhere, but takes the kernel's cgroup
    threadgroup lock for writing, which first waits out an RCU grace period
    (~10 ms) unless one passed moments ago.  The zygote does that right after
    forking a shim, so the grace period the container's init needs to join its
    cgroups is already under way (or over) when the init asks for it."""
    with open("/proc/self/cgroup") as f:
        lines = [ln.rstrip("\n").split(":", 2) for ln in f]
    for _hid, controllers, path in lines:
        for sub in [controllers.removeprefix("name=")] if controllers else ["unified", ""]:
            procs = os.path.join(cgroup_root, sub, path.lstrip("/"), "cgroup.procs")
            if os.path.exists(procs):
                return procs
    return ""
