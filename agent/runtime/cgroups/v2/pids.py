"""v2 pids controller: pids.max, pids.current."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.cgroups.base import Limits, read_int, write

NAME = "pids"


def apply(path: Path, limits: Limits) -> None:
    write(path / "pids.max", "max" if limits.pids_max is None else limits.pids_max)


def stats(path: Path) -> dict[str, int]:
    return {"pids_current": read_int(path / "pids.current")}
