"""v1 pids controller: pids.max, pids.current."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.cgroups.base import Limits, read_int, write

NAME = "pids"


def apply(path: Path, limits: Limits, fresh: bool = False) -> None:
    """``fresh``: ``path`` was just made (pids.max is "max"): no limit is not written."""
    if fresh and limits.pids_max is None:
        return
    write(path / "pids.max", "max" if limits.pids_max is None else limits.pids_max)


def stats(path: Path) -> dict[str, int]:
    return {"pids_current": read_int(path / "pids.current")}
