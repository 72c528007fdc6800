"""v1 freezer controller: freeze a cgroup so kill-all cannot race with fork."""

from __future__ import annotations

import time
from pathlib import Path

from agent.runtime.cgroups.base import Limits, read, write

NAME = "freezer"


def apply(path: Path, limits: Limits, fresh: bool = False) -> None:
    """The freezer limits nothing."""


def stats(path: Path) -> dict[str, int]:
    return {}


def set_state(path: Path, state: str, timeout: float = 2.0) -> bool:
    """Write FROZEN/THAWED and wait for it to take; False if it did not in time."""
    state_file = path / "freezer.state"
    if not state_file.exists():
        return False
    write(state_file, state)
    deadline = time.monotonic() + timeout
    while read(state_file) != state:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
