"""scale: 1,000 hollow nodes and 30,000 pods bound and Running on one control plane.

A control plane (``python -m controlplane``, embedded etcd, default profile,
``--cluster-cidr 10.64.0.0/10`` so that every node gets a /24) and one hollow
agent process with N nodes (default profile: a lease renewal per node every
10 s, node status every 5th heartbeat), in these phases:

1. the pods are created by 50 clients while the control plane runs without
   its loops (they stay Pending);
2. the control plane is restarted with its loops: the scheduler binds the
   backlog at that size -- throughput from its own bind timestamps (each
   pod's PodScheduled lastTransitionTime) -- and the hollow agent reports
   every pod Running (a list+watch waits for that);
3. at rest (10 s after all Running, then 30 s measured): CPU (% of one core)
   and RSS of the control plane (with its API workers, if any) and of etcd;
4. API latency at that size: 20 clients x 25 rounds of get (a random pod),
   create, update (CAS): p50/p99 against Kubernetes' SLO (p99 <= 1 s); a list
   of every pod in the cluster, 3 times (SLO <= 30 s);
5. watch fan-out: W pod watches (10 streams per channel), 20 writes: time until
   all W (and the median watcher) saw each.

Sizes: N=1000 nodes, 30,000 pods, 1000 watchers; ``--quick``: 100, 3,000, 100;
``CORRAL_BENCH_SCALE=NODES:PODS`` for any other (watchers = min(NODES, 1000)).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import scaleprobe
from bench.common import SYSTEM_REPO, BenchResult, rss_kb, summary, system_env, tree_pids

NAME = "scale"
CLUSTER_CIDR = "10.64.0.0/10"


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])   # utime + stime
    return total


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _split(cp_pid: int) -> tuple[list[int], list[int]]:
    """(control-plane processes, etcd processes) of the control plane's tree."""
    pids = tree_pids(cp_pid)
    etcd = [p for p in pids if _comm(p) == "etcd"]
    return [p for p in pids if p not in etcd], etcd


def at_rest(cp_pid: int, seconds: float = 30.0) -> dict[str, float]:
    cp, etcd = _split(cp_pid)
    hz = os.sysconf("SC_CLK_TCK")
    c0, e0, t0 = _cpu_ticks(cp), _cpu_ticks(etcd), time.monotonic()
    time.sleep(seconds)   # the measured interval itself, not a synchronisation
    c1, e1, t1 = _cpu_ticks(cp), _cpu_ticks(etcd), time.monotonic()
    per = 100 / hz / (t1 - t0)
    return {"cp_cpu": (c1 - c0) * per, "etcd_cpu": (e1 - e0) * per,
            "cp_rss": sum(rss_kb(p) for p in cp) / 1024,
            "etcd_rss": sum(rss_kb(p) for p in etcd) / 1024}


def _sizes(quick: bool) -> tuple[int, int]:
    env = os.environ.get("CORRAL_BENCH_SCALE", "")
    if env:
        n, _, p = env.partition(":")
        return int(n), int(p)
    return (100, 3000) if quick else (1000, 30000)


def _hollow(address: str, nodes: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "agent.hollow", "--server", address, "--nodes", str(nodes),
         "--prefix", "hollow-", "--profile", "default", "--log-level", "warning", "--insecure"],
        cwd=SYSTEM_REPO, env=system_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _wait_nodes(cl: Any, nodes: int, hollow: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 600
    while True:
        ready = [n for n in cl.list("nodes").items
                 if any(c.type == "Ready" and c.status == "True"
                        for c in n.node.status.conditions)]
        if len(ready) >= nodes:
            return
        if hollow.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{len(ready)}/{nodes} hollow nodes Ready: "
                               + log.read_text(errors="replace")[-2000:])
        time.sleep(1.0)


def _phase(res: BenchResult, what: str, fn: Any) -> None:
    """Run one measuring phase; a failure is noted (and kept in res.error) and the
    next phase still runs, so one timeout under load does not lose every figure."""
    import traceback

    try:
        fn()
    except Exception as e:
        res.notes.append(f"{what} failed: {e!r}"[:300])
        res.error = res.error or f"{what}: {traceback.format_exc()}"


def measure_at_rest(res: BenchResult, address: str, cp_pid: int, names: list[str],
                    pods: int, watchers: int) -> None:
    def rest() -> None:
        r = at_rest(cp_pid)
        res.add("at rest: control plane CPU", r["cp_cpu"], "% core")
        res.add("at rest: etcd CPU", r["etcd_cpu"], "% core")
        res.add("at rest: control plane RSS", r["cp_rss"], "MiB")
        res.add("at rest: etcd RSS", r["etcd_rss"], "MiB")
        res.add("at rest: control plane RSS per pod", r["cp_rss"] * 1024 / pods, "KiB")

    def calls() -> None:
        lat = asyncio.run(scaleprobe.call_latency(address, "scale", names))
        for verb in ("get", "create", "update"):
            s = summary(lat[verb])
            res.add(f"{verb} p50 (20 clients)", s["p50"] * 1000, "ms")
            res.add(f"{verb} p99 (20 clients)", s["p99"] * 1000, "ms", "<= 1000")

    def lists() -> None:
        took, n_items = asyncio.run(scaleprobe.list_all(address))
        res.add(f"list all pods ({n_items}) max of {len(took)}", max(took), "s", "<= 30")
        res.add(f"list all pods ({n_items}) min of {len(took)}", min(took), "s")

    def fan() -> None:
        worst, median = asyncio.run(scaleprobe.fanout(address, watchers, 20))
        ws = summary(worst)
        res.add(f"watch fan-out to all {watchers} p50", ws["p50"] * 1000, "ms")
        res.add(f"watch fan-out to all {watchers} p99", ws["p99"] * 1000, "ms")
        res.add("watch fan-out to median watcher p50", summary(median)["p50"] * 1000, "ms")

    for what, fn in (("at rest", rest), ("API calls", calls), ("list", lists),
                     ("fan-out", fan)):
        _phase(res, what, fn)


def run(quick: bool = False) -> BenchResult:
    from corral.client import Client
    from localcluster.cpprocess import ControlPlaneProcess
    from proto import codec

    nodes, pods = _sizes(quick)
    watchers = min(nodes, 1000)
    res = BenchResult(NAME)
    with ControlPlaneProcess("", profile="default", loops=False,
                             extra_args=["--cluster-cidr", CLUSTER_CIDR]) as cp:
        log = cp.dir / "hollow.log"
        hollow = _hollow(cp.address, nodes, log)
        try:
            with Client(cp.address) as cl:
                t = time.monotonic()
                _wait_nodes(cl, nodes, hollow, log)
                res.add(f"{nodes} hollow nodes registered and Ready", time.monotonic() - t, "s")
                for ns in ("scale", "probe", "fan"):
                    cl.create(codec.decode({"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": ns}}))
            names = [f"s{i:06d}" for i in range(pods)]
            wall = asyncio.run(scaleprobe.create_many(cp.address, "scale", names))
            res.add(f"create {pods} pods (50 clients, no loops)", pods / wall, "pods/s")
            cp.stop()
            cp.loops = True
            t_start = time.monotonic()
            cp.start(timeout=120)
            got = asyncio.run(scaleprobe.wait_running(cp.address, "scale", pods, 1800))
            res.add(f"control plane start -> {pods} Running", time.monotonic() - t_start, "s")
            st = got["scheduled"]
            if len(st) == pods and st[-1] > st[0]:
                res.add("scheduler throughput at this size (its bind timestamps)",
                        pods / (st[-1] - st[0]), "pods/s", ">= 1000")
            time.sleep(10)   # let the last status writes and events settle before measuring
            assert cp.pid is not None
            measure_at_rest(res, cp.address, cp.pid, names, pods, watchers)
            res.add("hollow agent RSS", rss_kb(hollow.pid) / 1024, "MiB")
        finally:
            hollow.terminate()
            try:
                hollow.wait(30)
            except subprocess.TimeoutExpired:
                hollow.kill()
                hollow.wait()
    res.notes.append(f"{nodes} hollow nodes (one process, default profile), {pods} pods "
                     f"(10m/8Mi); {watchers} watchers; load client: one asyncio process")
    return res
