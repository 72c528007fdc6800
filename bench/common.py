"""Shared pieces of the benchmarks: results, statistics, machine info, the
report (table + JSON), and a local cluster that is always torn down.

Each benchmark module has ``NAME`` and ``run(quick: bool) -> BenchResult``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The tree whose corral is measured: this checkout, or another one (a snapshot,
# a branch) given with ``python -m bench --repo DIR`` (sets CORRAL_BENCH_REPO).
SYSTEM_REPO = Path(os.environ.get("CORRAL_BENCH_REPO") or REPO).resolve()


def system_env() -> dict[str, str]:
    """The environment for processes of the system under test (its tree first)."""
    extra = [str(SYSTEM_REPO)] + ([str(REPO)] if SYSTEM_REPO != REPO else [])
    old = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(extra + ([old] if old else []))}
RESULTS_DIR = Path(__file__).resolve().parent / "results"


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


# ---- machine -----------------------------------------------------------------

def loadavg() -> tuple[float, float, float]:
    a, b, c = os.getloadavg()
    return (round(a, 2), round(b, 2), round(c, 2))


def cgroup_mode() -> str:
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return "v2 (unified)"
    if (root / "unified" / "cgroup.controllers").exists():
        return "v1 (hybrid: v2 mounted at /sys/fs/cgroup/unified)"
    return "v1"


def machine_info() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    mem_kb = 0
    with contextlib.suppress(OSError, StopIteration), open("/proc/meminfo") as f:
        mem_kb = int(next(ln for ln in f if ln.startswith("MemTotal:")).split()[1])
    return {
        "hostname": socket.gethostname(), "cpu_model": cpu or platform.processor(),
        "cores": os.cpu_count(), "memory_mib": mem_kb // 1024, "kernel": platform.release(),
        "cgroup_mode": cgroup_mode(), "python": platform.python_version(),
        "loadavg": loadavg(),
    }


# ---- report --------------------------------------------------------------------

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


# ---- processes and clusters ---------------------------------------------------------

def run(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 300,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(list(argv), env=env or system_env(), capture_output=True, text=True,
                       timeout=timeout, cwd=SYSTEM_REPO)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))


def smaps_rollup(pid: int) -> dict[str, int]:
    """kB fields of /proc/<pid>/smaps_rollup (Rss, Pss, Private_Dirty, ...)."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for ln in f:
            parts = ln.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/*/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for kids in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(k) for k in kids.read_text().split()]
    return out


class LocalCluster:
    """``corral cluster up`` in a temp CORRAL_CLUSTERS_DIR; ``close()`` always downs it."""

    def __init__(self, nodes: int = 3, profile: str = "demo", prefix: str = "bench") -> None:
        self.name = prefix + secrets.token_hex(2)
        self.nodes = nodes
        self.profile = profile
        self.tmp = Path(tempfile.mkdtemp(prefix="corral-bench-"))
        self.env = {**system_env(), "CORRAL_CLUSTERS_DIR": str(self.tmp / "clusters"),
                    "CORRAL_CONFIG": str(self.tmp / "config")}
        self.env.pop("CORRAL_SERVER", None)
        self.up_seconds = 0.0
        self.up_output = ""
        self._started = False

    def corral(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        r = run([sys.executable, "-m", "corral.cli.main", *args], env=self.env,
                timeout=timeout, check=check)
        return r.stdout + r.stderr

    def up(self, timeout: float = 120) -> None:
        self._started = True
        t0 = time.perf_counter()
        self.up_output = self.corral("cluster", "up", "--name", self.name, "--nodes",
                                     str(self.nodes), "--profile", self.profile,
                                     timeout=timeout + 30)
        self.up_seconds = time.perf_counter() - t0

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = json.loads(
            (self.tmp / "clusters" / self.name / "cluster.json").read_text())
        return rec

    @property
    def server(self) -> str:
        rec = self.record()
        return f"{rec['gateway']}:{rec['api_port']}"

    def client(self) -> Any:
        """A ``corral.client.Client`` as the CLI would make it (the context that
        ``cluster up`` wrote to CORRAL_CONFIG, with its credentials if any)."""
        from corral import config
        from corral.client import Client

        s = config.resolve(config.load(self.tmp / "config"))
        return Client(s.server, s.credentials)

    def down(self) -> float:
        t0 = time.perf_counter()
        if self._started:
            self.corral("cluster", "down", "--name", self.name, check=False, timeout=300)
            self._started = False
        return time.perf_counter() - t0

    def close(self) -> None:
        try:
            self.down()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def local_cluster(nodes: int = 3, profile: str = "demo") -> Iterator[LocalCluster]:
    c = LocalCluster(nodes, profile)
    try:
        c.up()
        yield c
    finally:
        c.close()


def pod_doc(name: str, *, namespace: str = "default", image: str = "demo:latest",
            command: Sequence[str] = ("sleep", "100000"), node: str = "",
            labels: dict[str, str] | None = None, cpu: str = "10m",
            memory: str = "8Mi") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 0,
        "containers": [{
            "name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
            "command": list(command),
            "resources": {"requests": {"cpu": cpu, "memory": memory}},
        }],
    }
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": spec}


def remove_cgroup_dirs(name: str, root: Path = Path("/sys/fs/cgroup")) -> list[str]:
    """rmdir ``<hierarchy>/<name>`` and everything under it in every hierarchy
    (cgroup v1 has one per controller; runc also makes them in blkio, systemd...).
    Returns what could not be removed."""
    left: list[str] = []
    for base in [root, *(p for p in root.iterdir() if p.is_dir())] if root.is_dir() else []:
        top = base / name
        if not top.is_dir():
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                left.append(dirpath)
    return left


class PodWatcher:
    """A pod watch in a thread, stamping (perf_counter) when each pod was first
    seen bound (spec.nodeName) and first seen Running; ``close()`` cancels it."""

    def __init__(self, client: Any, namespace: str = "", label_selector: str = "") -> None:
        import threading

        self.bound: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.deleted: dict[str, float] = {}
        self.node_of: dict[str, str] = {}
        self.phase: dict[str, str] = {}
        self.terminating: set[str] = set()
        self.events = 0
        self.error = ""
        self._cond = threading.Condition()
        self._stream = client.watch("pods", namespace=namespace, label_selector=label_selector)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="pod-watch")
        self._thread.start()

    def _loop(self) -> None:
        try:
            for ev in self._stream:
                now = time.perf_counter()
                if ev.type == "BOOKMARK":
                    continue
                pod = ev.object.pod
                key = pod.metadata.name
                with self._cond:
                    self.events += 1
                    if ev.type == "DELETED":
                        self.deleted.setdefault(key, now)
                    if pod.metadata.deletion_timestamp.ByteSize() or ev.type == "DELETED":
                        self.terminating.add(key)
                    if pod.spec.node_name:
                        self.bound.setdefault(key, now)
                        self.node_of[key] = pod.spec.node_name
                    self.phase[key] = pod.status.phase
                    if pod.status.phase == "Running":
                        self.running.setdefault(key, now)
                    self._cond.notify_all()
        except Exception as e:  # the stream broke: say so in the result
            self.error = repr(e)
            with self._cond:
                self._cond.notify_all()

    def wait(self, pred: Callable[[PodWatcher], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0 or self.error:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def close(self) -> None:
        self._stream.cancel()
        self._thread.join(5)


README = Path(__file__).resolve().parent / "README.md"
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
