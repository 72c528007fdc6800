"""The benchmark report: table and JSON writer on synthetic results (no timings)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import __main__ as cli
from bench.common import (
    BenchResult,
    Metric,
    machine_info,
    percentile,
    results_path,
    summary,
    table,
    write_json,
)


def synthetic() -> list[BenchResult]:
    a = BenchResult("container-start", seconds=1.5)
    a.add("corral p50", 12.345, "ms")
    a.add("ratio corral / runc", 0.8, "x", "<= 1.0")
    b = BenchResult("scheduling")
    b.add("throughput", 420.0, "pods/s", ">= 500", "hollow nodes")
    c = BenchResult("api", error="Traceback (most recent call last):\nboom")
    return [a, b, c]


def test_metric_verdicts() -> None:
    assert Metric("x", 1.0, "s", "<= 1.0").ok is True
    assert Metric("x", 1.1, "s", "<= 1.0").ok is False
    assert Metric("x", 600, "pods/s", ">= 500").ok is True
    assert Metric("x", 1.0, "s").ok is None
    assert Metric("x", None, "s", "<= 1").ok is None
    with pytest.raises(ValueError):
        _ = Metric("x", 1.0, "s", "< 1").ok


def test_percentiles() -> None:
    vals = [float(i) for i in range(1, 101)]
    assert percentile(vals, 50) == 50.0
    assert percentile(vals, 99) == 99.0
    assert percentile(vals, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    s = summary([2.0, 1.0, 3.0])
    assert (s["n"], s["p50"], s["min"], s["max"], s["mean"]) == (3, 2.0, 1.0, 3.0, 2.0)
    with pytest.raises(ValueError):
        percentile([], 50)


def test_table_text_and_markdown() -> None:
    text = table(synthetic())
    lines = text.splitlines()
    assert lines[0].split() == ["benchmark", "metric", "value", "unit", "target", "ok"]
    assert any("corral p50" in ln and "12.3" in ln for ln in lines)
    assert any("ratio corral / runc" in ln and "yes" in ln for ln in lines)
    assert any("throughput" in ln and "NO" in ln and "420" in ln for ln in lines)
    assert any(ln.startswith("api") and "ERROR" in ln for ln in lines)
    md = table(synthetic(), markdown=True).splitlines()
    assert md[0].startswith("| benchmark |") and md[1].startswith("|---|")
    assert all(ln.startswith("|") and ln.endswith("|") for ln in md)
    assert any("ratio corral / runc" in ln for ln in md)  # '/' kept, '|' would be escaped


def test_json_written_and_merged(tmp_path: Path) -> None:
    path = results_path(datetime(2026, 1, 2, tzinfo=UTC), "box", tmp_path)
    assert path == tmp_path / "2026-01-02-box.json"
    machine = {"hostname": "box", "cores": 2}
    doc = write_json(synthetic(), path, machine)
    on_disk = json.loads(path.read_text())
    assert on_disk == doc
    assert on_disk["machine"] == machine
    names = [r["name"] for r in on_disk["results"]]
    assert names == ["container-start", "scheduling", "api"]
    sched = on_disk["results"][1]
    assert sched["metrics"][0] == {"name": "throughput", "value": 420.0, "unit": "pods/s",
                                   "target": ">= 500", "note": "hollow nodes", "ok": False}
    # running one benchmark again replaces only its entry
    again = BenchResult("scheduling")
    again.add("throughput", 900.0, "pods/s", ">= 500")
    write_json([again], path, machine)
    merged = json.loads(path.read_text())
    assert [r["name"] for r in merged["results"]] == names
    assert merged["results"][1]["metrics"][0]["ok"] is True
    # and round-trips
    back = BenchResult.from_dict(merged["results"][0])
    assert back.metrics[1].target == "<= 1.0" and back.seconds == 1.5


def test_machine_info_fields() -> None:
    info = machine_info()
    for key in ("hostname", "cpu_model", "cores", "memory_mib", "kernel", "cgroup_mode",
                "python", "loadavg"):
        assert key in info
    assert len(info["loadavg"]) == 3


def test_cli_rejects_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["no-such-bench"])
    assert "unknown benchmark" in capsys.readouterr().err
    assert set(cli.BENCHMARKS) == {"container-start", "pod-startup", "scheduling", "bring-up",
                                   "failover", "footprint", "api", "api-write", "kube-api",
                                   "secrets", "scale", "build", "service-sync", "dns",
                                   "rollout-drain", "jobs", "ha"}


def test_readme_block_replaced(tmp_path: Path) -> None:
    from bench.common import BEGIN, END, update_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"# bench\nintro\n{BEGIN}\nold figures\n{END}\nrest\n")
    doc = write_json(synthetic(), tmp_path / "r.json", {
        "hostname": "box", "cpu_model": "cpu", "cores": 2, "memory_mib": 1024,
        "kernel": "6.1", "cgroup_mode": "v2", "python": "3.11", "loadavg": [1, 1, 1]})
    assert update_readme(doc, readme)
    text = readme.read_text()
    assert text.startswith("# bench\nintro\n") and text.endswith(f"{END}\nrest\n")
    assert "old figures" not in text and "| container-start | corral p50 |" in text
    assert "box" in text
    readme.write_text("no markers")
    assert not update_readme(doc, readme)
