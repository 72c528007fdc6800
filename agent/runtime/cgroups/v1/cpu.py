"""v1 cpu controller: cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.cgroups.base import DEFAULT_CPU_PERIOD_US, Limits, write

NAME = "cpu"


def apply(path: Path, limits: Limits, fresh: bool = False) -> None:
    """``fresh``: ``path`` was just made, so it holds the kernel's defaults (no quota,
    the default period): values equal to them are not written again."""
    if limits.cpu_shares is not None:
        write(path / "cpu.shares", limits.cpu_shares)
    if fresh and limits.cpu_quota_us is None and limits.cpu_period_us == DEFAULT_CPU_PERIOD_US:
        return
    write(path / "cpu.cfs_period_us", limits.cpu_period_us)
    write(path / "cpu.cfs_quota_us", -1 if limits.cpu_quota_us is None else limits.cpu_quota_us)


def stats(path: Path) -> dict[str, int]:
    return {}
