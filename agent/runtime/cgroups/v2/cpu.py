"""v2 cpu controller: cpu.weight (from shares, Kubernetes' conversion), cpu.max, cpu.stat."""

from __future__ import annotations

from pathlib import Path

from agent.runtime.cgroups.base import Limits, read_keyed, shares_to_weight, write

NAME = "cpu"


def apply(path: Path, limits: Limits) -> None:
    if limits.cpu_shares is not None:
        write(path / "cpu.weight", shares_to_weight(limits.cpu_shares))
    quota = "max" if limits.cpu_quota_us is None else str(limits.cpu_quota_us)
    write(path / "cpu.max", f"{quota} {limits.cpu_period_us}")


def stats(path: Path) -> dict[str, int]:
    # cpu.stat exists even without the cpu controller enabled
    return {"cpu_usage_ns": read_keyed(path / "cpu.stat").get("usage_usec", 0) * 1000}
