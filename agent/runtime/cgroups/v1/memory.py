"""v1 memory controller: limit_in_bytes (+ memsw, so no swap), usage, OOM kills."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.cgroups.base import Limits, read_int, read_keyed, write
from agent.runtime.errors import CgroupError

NAME = "memory"
UNLIMITED = -1


def apply(path: Path, limits: Limits, fresh: bool = False) -> None:
    """``fresh``: ``path`` was just made (unlimited): no limit is not written again."""
    if fresh and limits.memory_bytes is None:
        return
    value = UNLIMITED if limits.memory_bytes is None else limits.memory_bytes
    memsw = path / "memory.memsw.limit_in_bytes"
    # memsw must stay >= limit: lowering goes limit first, raising memsw first.
    try:
        write(path / "memory.limit_in_bytes", value)
        write(memsw, value, optional=True)
    except CgroupError:
        write(memsw, value, optional=True)
        write(path / "memory.limit_in_bytes", value)
    if limits.memory_bytes is not None:
        write(path / "memory.swappiness", 0, optional=True)


def oom_kills(path: Path) -> int:
    return read_keyed(path / "memory.oom_control").get("oom_kill", 0)


def stats(path: Path) -> dict[str, int]:
    usage = read_int(path / "memory.usage_in_bytes")
    st = read_keyed(path / "memory.stat")
    inactive = st.get("total_inactive_file", st.get("inactive_file", 0))
    return {
        "memory_usage_bytes": usage,
        "memory_working_set_bytes": max(0, usage - inactive),
        "oom_kills": oom_kills(path),
    }
