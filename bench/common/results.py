"""Benchmark results (metrics with their targets, to and from JSON) and the
statistics they are made of."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Metric:
    name: str
    value: float | None
    unit: str
    target: str = ""          # e.g. "<= 0.5" (same unit); empty: no target
    note: str = ""

    @property
    def ok(self) -> bool | None:
        """Whether ``value`` meets ``target`` ("<= x" or ">= x"); None without one."""
        if not self.target or self.value is None:
            return None
        op, _, num = self.target.partition(" ")
        limit = float(num)
        if op == "<=":
            return self.value <= limit
        if op == ">=":
            return self.value >= limit
        raise ValueError(f"bad target {self.target!r}: want '<= N' or '>= N'")


@dataclass
class BenchResult:
    name: str
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    loadavg_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    loadavg_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def add(self, name: str, value: float | None, unit: str, target: str = "",
            note: str = "") -> Metric:
        m = Metric(name, value, unit, target, note)
        self.metrics.append(m)
        return m

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for md, m in zip(d["metrics"], self.metrics, strict=True):
            md["ok"] = m.ok
        d["loadavg_before"] = list(self.loadavg_before)
        d["loadavg_after"] = list(self.loadavg_after)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchResult:
        metrics = [Metric(m["name"], m["value"], m["unit"], m.get("target", ""),
                          m.get("note", "")) for m in d.get("metrics", [])]
        return cls(name=d["name"], metrics=metrics, notes=list(d.get("notes", [])),
                   error=d.get("error", ""), seconds=float(d.get("seconds", 0.0)),
                   loadavg_before=_triple(d.get("loadavg_before")),
                   loadavg_after=_triple(d.get("loadavg_after")))


def _triple(v: Any) -> tuple[float, float, float]:
    a, b, c = [*v, 0.0, 0.0, 0.0][:3] if v else (0.0, 0.0, 0.0)
    return (float(a), float(b), float(c))


# ---- statistics ---------------------------------------------------------------

def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "min": min(values), "max": max(values), "mean": sum(values) / len(values)}

