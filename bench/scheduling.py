"""scheduling: 100 hollow nodes, 1000 pods created at once.

A control plane (``python -m controlplane``, embedded etcd, default profile)
and one hollow agent process (``python -m agent.hollow``, 100 nodes, 10 s
heartbeats) that reports bound pods Running without starting anything.
1000 pods (10m/8Mi) are created by 16 threads as fast as the API takes them;
a pod watch opened before stamps when each pod is first seen bound
(``spec.nodeName``) and first seen Running.

Two phases:

- backlog (the scheduler alone): the control plane first runs with
  ``--no-loops`` while the 1000 pods are created (they stay Pending), then
  it is restarted with its loops; the scheduler finds 1000 pending pods and
  binds them.  Throughput = pods / (last - first bind) from the scheduler's
  own timestamps (each pod's PodScheduled lastTransitionTime, set by Bind).
- at once (end to end): with the scheduler running, 1000 more pods are
  created at once; throughput from the watch: pods / (last bound - first
  bound), and pods / (last bound - first create sent); and the time until
  all are Running as the hollow agents report.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import SYSTEM_REPO, BenchResult, PodWatcher, pod_doc, system_env

NAME = "scheduling"


def run(quick: bool = False) -> BenchResult:
    from corral.client import Client
    from localcluster.cpprocess import ControlPlaneProcess
    from proto import codec

    nodes, pods = (20, 200) if quick else (100, 1000)
    res = BenchResult(NAME)
    # a hollow agent of a tree with TLS must be told the control plane is plaintext
    helptext = subprocess.run([sys.executable, "-m", "agent.hollow", "--help"], cwd=SYSTEM_REPO,
                              env=system_env(), capture_output=True, text=True).stdout
    insecure = ["--insecure"] if "--insecure" in helptext else []
    with ControlPlaneProcess("", profile="default", loops=False) as cp:
        log = open(cp.dir / "hollow.log", "wb")  # noqa: SIM115 - closed in finally
        hollow = subprocess.Popen(
            [sys.executable, "-m", "agent.hollow", "--server", cp.address, "--nodes",
             str(nodes), "--prefix", "hollow-", "--profile", "default",
             "--log-level", "warning", *insecure],
            cwd=SYSTEM_REPO, env=system_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            with Client(cp.address) as cl:
                t_nodes = time.monotonic()
                while True:
                    ready = [n for n in cl.list("nodes").items
                             if any(c.type == "Ready" and c.status == "True"
                                    for c in n.node.status.conditions)]
                    if len(ready) >= nodes:
                        break
                    if hollow.poll() is not None or time.monotonic() - t_nodes > 120:
                        raise RuntimeError("hollow nodes not Ready: " + Path(
                            cp.dir / "hollow.log").read_text(errors="replace")[-2000:])
                    time.sleep(0.2)
                res.add("hollow nodes Ready after start", time.monotonic() - t_nodes, "s")
                backlog(cl, cp, res, pods)
            with Client(cp.address) as cl:
                objs = [codec.decode(pod_doc(f"s{i:05d}")) for i in range(pods)]
                w = PodWatcher(cl, namespace="default")
                try:
                    time.sleep(0.5)   # the watch is open
                    sent: list[float] = []

                    def create(obj: Any) -> float:
                        t = time.perf_counter()
                        cl.create(obj)
                        return t

                    t_first = time.perf_counter()
                    with ThreadPoolExecutor(16) as ex:
                        sent = list(ex.map(create, objs))
                    t_created = time.perf_counter()
                    ok = w.wait(lambda w: len(w.running) >= pods, 600)
                    if not ok:
                        raise RuntimeError(f"only {len(w.running)}/{pods} Running after 600 s "
                                           f"({len(w.bound)} bound) {w.error}")
                    bound = sorted(w.bound.values())
                    running = sorted(w.running.values())
                finally:
                    w.close()
        finally:
            hollow.terminate()
            try:
                hollow.wait(15)
            except subprocess.TimeoutExpired:
                hollow.kill()
                hollow.wait()
            log.close()
    first_sent = min(sent)
    res.add("at once: create rate (16 threads)", pods / (t_created - t_first), "pods/s")
    res.add("at once: bind rate (first..last bound)", pods / (bound[-1] - bound[0]),
            "pods/s")
    res.add("at once: end to end rate (first create..last bound)",
            pods / (bound[-1] - first_sent), "pods/s")
    res.add("at once: first create -> all bound", bound[-1] - first_sent, "s")
    res.add("at once: first create -> all Running", running[-1] - first_sent, "s")
    res.add("at once: last create -> all bound", bound[-1] - t_created, "s")
    res.notes.append(f"at once: {nodes} hollow nodes in one process, {pods} pods created "
                     "by 16 threads over one gRPC channel; times from the pod watch")
    return res


def _ts(t: object) -> float:
    return t.seconds + t.nanos / 1e9  # type: ignore[attr-defined]


def backlog(cl: object, cp: object, res: BenchResult, pods: int) -> None:
    """Create ``pods`` with no scheduler running, restart the control plane with
    its loops, and time the scheduler binding the backlog."""
    from proto import codec

    objs = [codec.decode(pod_doc(f"b{i:05d}", namespace="backlog")) for i in range(pods)]
    cl.create(codec.decode({"apiVersion": "v1", "kind": "Namespace",  # type: ignore[attr-defined]
                            "metadata": {"name": "backlog"}}))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(cl.create, objs))  # type: ignore[attr-defined]
    res.add("backlog: create rate (16 threads, no loops)", pods / (time.perf_counter() - t0),
            "pods/s")
    cp.stop()  # type: ignore[attr-defined]
    cp.loops = True  # type: ignore[attr-defined]
    t_start = time.monotonic()
    cp.start()  # type: ignore[attr-defined]
    t_serving = time.monotonic()
    from corral.client import Client

    with Client(cp.address) as c2:  # type: ignore[attr-defined]
        while True:
            items = c2.list("pods", namespace="backlog").items
            done = [p.pod for p in items if p.pod.spec.node_name]
            if len(done) >= pods:
                break
            if time.monotonic() - t_serving > 600:
                raise RuntimeError(f"backlog: {len(done)}/{pods} bound after 600 s")
            time.sleep(0.25)
    t_all = time.monotonic()
    stamps = sorted(_ts(c.last_transition_time) for p in done for c in p.status.conditions
                    if c.type == "PodScheduled" and c.status == "True")
    if len(stamps) == pods and stamps[-1] > stamps[0]:
        res.add("backlog: scheduler throughput (its bind timestamps)",
                pods / (stamps[-1] - stamps[0]), "pods/s", ">= 500")
    res.add("backlog: control plane start -> all bound (polled)", t_all - t_start, "s")
    res.add("backlog: control plane start -> serving", t_serving - t_start, "s")
    res.notes.append("backlog: the control plane restarted with its loops on 1000 pending pods; "
                     "the time to all bound includes leader election and informer sync")
