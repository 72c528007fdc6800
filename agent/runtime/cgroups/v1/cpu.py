"""v1 cpu controller: cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.cgroups.base import Limits, write

NAME = "cpu"


def apply(path: Path, limits: Limits) -> None:
    if limits.cpu_shares is not None:
        write(path / "cpu.shares", limits.cpu_shares)
    write(path / "cpu.cfs_period_us", limits.cpu_period_us)
    write(path / "cpu.cfs_quota_us", -1 if limits.cpu_quota_us is None else limits.cpu_quota_us)


def stats(path: Path) -> dict[str, int]:
    return {}
