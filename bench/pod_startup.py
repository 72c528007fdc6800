"""pod-startup: create -> Running seen through a watch, image already on the node.

A 3-node local cluster (demo profile).  First one pod per node (pinned with
``nodeName``) so that the image is pulled and unpacked everywhere; then N
pods (``sleep``, requests 10m/8Mi, grace 0) in batches of B: each pod is
created with the API's Create (what ``corral apply`` does for a new object)
and its latency runs from just before that call until a pod watch opened
beforehand shows ``status.phase=Running``; the next batch starts when the
whole batch runs.  Also: create -> bound (spec.nodeName seen on the watch),
and, before the batches, 10 pods one at a time (latency without queueing).
Last, a burst: N more pods created at once by 20 threads (not in batches),
each timed the same way (create -> Running on the watch).  CPU per pod (what
compares on a loaded machine): utime + stime of the 3 agent processes, and of
the control plane and its etcd, over the batches and over the burst, divided
by the pods started.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bench.common import (
    BenchResult,
    LocalCluster,
    PodWatcher,
    cpu_seconds,
    pod_doc,
    summary,
    tree_pids,
)

NAME = "pod-startup"


def run(quick: bool = False) -> BenchResult:
    from proto import codec

    n, batch, n_serial = (20, 10, 3) if quick else (100, 10, 10)
    res = BenchResult(NAME)
    if os.geteuid() != 0:
        res.error = "needs root"
        return res
    c = LocalCluster(nodes=3, profile="demo")
    try:
        c.up()
        with c.client() as cl:
            w = PodWatcher(cl, namespace="default")
            try:
                nodes = [nd["name"] for nd in c.record()["nodes"]]
                for node in nodes:
                    cl.create(codec.decode(pod_doc(f"warm-{node}", node=node)))
                warm = {f"warm-{node}" for node in nodes}
                if not w.wait(lambda w: warm <= w.running.keys(), 180):
                    raise RuntimeError(f"warm-up pods not Running: {w.phase} {w.error}")
                serial: list[float] = []
                for i in range(n_serial):   # one at a time: the latency without queueing
                    name = f"one{i:02d}"
                    obj = codec.decode(pod_doc(name))
                    ts = time.perf_counter()
                    cl.create(obj)
                    def is_running(w: PodWatcher, name: str = name) -> bool:
                        return name in w.running

                    if not w.wait(is_running, 120):
                        raise RuntimeError(f"pod {name} not Running after 120 s")
                    serial.append(w.running[name] - ts)
                t0: dict[str, float] = {}
                rec = c.record()
                cpu0 = _cpu(rec)
                for b in range(0, n, batch):
                    names = [f"p{i:04d}" for i in range(b, min(n, b + batch))]
                    for name in names:
                        obj = codec.decode(pod_doc(name))
                        t0[name] = time.perf_counter()
                        cl.create(obj)
                    want = set(names)

                    def batch_running(w: PodWatcher, want: set[str] = want) -> bool:
                        return want <= w.running.keys()

                    if not w.wait(batch_running, 120):
                        missing = sorted(want - w.running.keys())
                        raise RuntimeError(f"pods not Running after 120 s: {missing[:5]} "
                                           f"phases {[w.phase.get(m) for m in missing[:5]]}")
                cpu1 = _cpu(rec)
                run_lat = [w.running[k] - t0[k] for k in t0]
                bind_lat = [w.bound[k] - t0[k] for k in t0 if k in w.bound]
                burst = _burst(cl, w, n)
                cpu2 = _cpu(rec)
            finally:
                w.close()
        s, sb = summary(run_lat), summary(bind_lat)
        res.add("create->Running p50", s["p50"], "s")
        res.add("create->Running p99", s["p99"], "s", "<= 0.35")
        res.add("create->Running max", s["max"], "s")
        res.add("create->bound p50", sb["p50"], "s")
        res.add("create->bound p99", sb["p99"], "s")
        ss = summary(serial)
        res.add(f"one pod at a time: create->Running p50 (n={n_serial})", ss["p50"], "s")
        res.add(f"one pod at a time: create->Running max (n={n_serial})", ss["max"], "s")
        per_node: dict[str, int] = {}
        for k in t0:
            node = w.node_of.get(k, "?")
            per_node[node] = per_node.get(node, 0) + 1
        sr = summary(burst)
        res.add(f"burst of {n}: create->Running p50", sr["p50"], "s")
        res.add(f"burst of {n}: create->Running p99", sr["p99"], "s", "<= 1.0")
        res.add(f"burst of {n}: create->Running max", sr["max"], "s")
        for phase, (c0, c1) in (("batches", (cpu0, cpu1)), (f"burst of {n}", (cpu1, cpu2))):
            for who in c0:
                res.add(f"{phase}: {who} CPU per pod", (c1[who] - c0[who]) / n * 1000, "ms")
        res.notes.append(f"{n} pods in batches of {batch} (a batch waits for the previous "
                         f"one to run); spread {dict(sorted(per_node.items()))}; image "
                         "pre-pulled by one pinned pod per node")
    finally:
        c.close()
    return res


def _cpu(rec: dict[str, Any]) -> dict[str, float]:
    """CPU seconds so far: the agents (their own processes, not the zygotes and shims),
    the control plane and etcd."""
    cp = tree_pids(int(rec["controlplane_pid"]))
    etcd = [p for p in cp if _comm(p) == "etcd"]
    return {"agent (3)": cpu_seconds([int(nd["agent_pid"]) for nd in rec["nodes"]]),
            "control plane": cpu_seconds([p for p in cp if p not in etcd]),
            "etcd": cpu_seconds(etcd)}


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _burst(cl: object, w: PodWatcher, n: int) -> list[float]:
    """Create n pods at once (20 threads, no waiting for any to run); create -> Running."""
    from concurrent.futures import ThreadPoolExecutor

    from proto import codec

    objs = [(f"u{i:04d}", codec.decode(pod_doc(f"u{i:04d}"))) for i in range(n)]
    t0: dict[str, float] = {}

    def create(item: tuple[str, object]) -> None:
        t0[item[0]] = time.perf_counter()
        cl.create(item[1])  # type: ignore[attr-defined]

    with ThreadPoolExecutor(20) as ex:
        list(ex.map(create, objs))
    want = set(t0)
    if not w.wait(lambda w: want <= w.running.keys(), 180):
        missing = sorted(want - w.running.keys())
        raise RuntimeError(f"burst: pods not Running after 180 s: {missing[:5]}")
    return [w.running[k] - t0[k] for k in t0]
