"""v2 memory controller: memory.max, memory.swap.max=0, usage, memory.events oom_kill."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.cgroups.base import Limits, read_int, read_keyed, write

NAME = "memory"


def apply(path: Path, limits: Limits) -> None:
    write(path / "memory.max", "max" if limits.memory_bytes is None else limits.memory_bytes)
    if limits.memory_bytes is not None:
        write(path / "memory.swap.max", 0, optional=True)


def oom_kills(path: Path) -> int:
    return read_keyed(path / "memory.events").get("oom_kill", 0)


def stats(path: Path) -> dict[str, int]:
    usage = read_int(path / "memory.current")
    inactive = read_keyed(path / "memory.stat").get("inactive_file", 0)
    return {
        "memory_usage_bytes": usage,
        "memory_working_set_bytes": max(0, usage - inactive),
        "oom_kills": oom_kills(path),
    }
