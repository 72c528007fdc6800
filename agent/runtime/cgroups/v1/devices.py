"""v1 devices controller: deny every device but the ones a container's /dev has
(Docker's default list, devrules.py; v2 enforces the same list with eBPF)."""

from __future__ import annotations

from pathlib import Path

import agent.runtime.cgroups.devrules as devrules
from agent.runtime.cgroups.base import Limits, write

NAME = "devices"

ALLOW = tuple(r.v1() for r in devrules.DEFAULT)


def apply(path: Path, limits: Limits, fresh: bool = False) -> None:
    """A new v1 devices cgroup copies its parent's list: ``fresh`` changes nothing."""
    if limits.devices == "all":
        write(path / "devices.allow", "a")
    elif limits.devices == "default":
        write(path / "devices.deny", "a")
        for rule in ALLOW:
            write(path / "devices.allow", rule)


def stats(path: Path) -> dict[str, int]:
    return {}
