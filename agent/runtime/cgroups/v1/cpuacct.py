"""v1 cpuacct controller: CPU usage accounting (cpuacct.usage, nanoseconds)."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.cgroups.base import Limits, read_int

NAME = "cpuacct"


def apply(path: Path, limits: Limits, fresh: bool = False) -> None:
    """cpuacct only accounts; nothing to limit."""


def stats(path: Path) -> dict[str, int]:
    return {"cpu_usage_ns": read_int(path / "cpuacct.usage")}
