"""The report of a benchmark run: the table, the day's JSON results file, and the
"latest figures" block of bench/README.md."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common.machine import machine_info
from bench.common.results import BenchResult

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v == 0 or abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 0.1:
        return f"{v:.2f}"
    return f"{v:.4f}"


def table(results: Sequence[BenchResult], markdown: bool = False) -> str:
    """One row per metric: benchmark, metric, value, unit, target, verdict."""
    head = ["benchmark", "metric", "value", "unit", "target", "ok"]
    rows: list[list[str]] = []
    for r in results:
        if r.error:
            rows.append([r.name, "ERROR", r.error.splitlines()[0][:80] if r.error else "",
                         "", "", ""])
        for m in r.metrics:
            verdict = {True: "yes", False: "NO", None: ""}[m.ok]
            rows.append([r.name, m.name, _fmt(m.value), m.unit, m.target, verdict])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return "\n".join(out)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def results_path(when: datetime | None = None, host: str | None = None,
                 directory: Path = RESULTS_DIR) -> Path:
    when = when or datetime.now(UTC)
    return directory / f"{when:%Y-%m-%d}-{host or socket.gethostname()}.json"


def write_json(results: Sequence[BenchResult], path: Path,
               machine: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write (merge into) the day's file: a benchmark run again replaces its entry."""
    doc: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(ValueError):
            doc = json.loads(path.read_text())
    by_name = {r["name"]: r for r in doc.get("results", []) if isinstance(r, dict)}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for r in results:
        d = r.to_dict()
        d["finished_at"] = now
        by_name[r.name] = d
    doc["machine"] = machine if machine is not None else machine_info()
    doc["updated_at"] = now
    doc["results"] = list(by_name.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return doc


README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- latest:begin -->", "<!-- latest:end -->"


def latest_section(doc: dict[str, Any]) -> str:
    """The README's "latest figures" block from a results document."""
    m = doc["machine"]
    results = [BenchResult.from_dict(r) for r in doc["results"]]
    loads = ", ".join(f"{r.name} {r.loadavg_before[0]:.1f}->{r.loadavg_after[0]:.1f}"
                      for r in results)
    return "\n".join([
        f"Measured {doc.get('updated_at', '')} UTC on `{m['hostname']}`: {m['cpu_model']}, "
        f"{m['cores']} cores, {m['memory_mib']} MiB, kernel {m['kernel']}, cgroup "
        f"{m['cgroup_mode']}, Python {m['python']}; system under test: "
        f"{m.get('system_under_test', '?')}.",
        "",
        f"1-minute load average before->after each benchmark (a shared machine): {loads}.",
        "",
        table(results, markdown=True),
        "",
        *(f"- {r.name}: {n}" for r in results for n in r.notes),
    ])


def update_readme(doc: dict[str, Any], path: Path = README) -> bool:
    """Replace the block between the markers; False if the markers are missing."""
    text = path.read_text() if path.exists() else ""
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{latest_section(doc)}\n{END}{tail}")
    return True
