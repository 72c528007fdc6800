"""Scheduling throughput (not a test; run on demand, record results in bench/).

    python -m tests.integration.loops.bench_scheduler --pods 2000 --nodes 100

A real etcd, the API server in this process, a hollow agent with N nodes in a
subprocess; P pending pods are created first, then the loops start (no
election) and the time until the scheduler has bound them all is measured
(informer sync, scheduling, Registry.bind with CAS, Scheduled events).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

from controlplane import profiles
from controlplane.loops import build_loops
from tests.integration.loops.harness import pod
from tests.support.aio import eventually
from tests.support.controlplane import REPO, ControlPlane
from tests.support.etcd import EtcdProcess


async def bench(endpoint: str, n_pods: int, n_nodes: int) -> float:
    cp = ControlPlane(endpoint)
    await cp.start()
    reg = cp.registry
    assert reg is not None
    agent = subprocess.Popen(
        [sys.executable, "-m", "agent.hollow", "--server", cp.address, "--nodes", str(n_nodes),
         "--prefix", "h-", "--log-level", "warning", "--insecure"],
        env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
    try:
        async def nodes() -> bool:
            return len((await reg.list("nodes")).items) == n_nodes
        await eventually(nodes, timeout=120, what="nodes registered")
        sem = asyncio.Semaphore(64)

        async def mk(i: int) -> None:
            async with sem:
                await reg.create(pod(f"p-{i}", cpu="10m", memory="10Mi"))
        t, cpu = time.monotonic(), time.process_time()
        await asyncio.gather(*(mk(i) for i in range(n_pods)))
        print(f"created {n_pods} pods in {time.monotonic() - t:.2f}s "
              f"(CPU {1000 * (time.process_time() - cpu) / n_pods:.2f} ms per create)")
        loops = build_loops(reg, identity="bench", profile=profiles.DEFAULT)
        t, cpu = time.monotonic(), time.process_time()
        task = asyncio.create_task(loops.run())
        sched = loops.scheduler
        await eventually(lambda: sched.bound >= n_pods, timeout=600, interval=0.01,
                         what="all bound")
        dt = time.monotonic() - t
        # CPU seconds of this process (API server + loops) per pod: steadier than the
        # rate on a shared machine
        print(f"CPU {1000 * (time.process_time() - cpu) / n_pods:.2f} ms per pod bound")
        binder = getattr(sched, "binder", None)
        if binder is not None:
            print(f"{binder.batched} pods bound in {binder.batches} multi-pod transactions")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return n_pods / dt
    finally:
        agent.terminate()
        agent.wait()
        await cp.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--pods", type=int, default=2000)
    p.add_argument("--nodes", type=int, default=100)
    a = p.parse_args()
    with EtcdProcess() as e:
        rate = asyncio.run(bench(e.endpoint, a.pods, a.nodes))
    print(f"{a.pods} pods on {a.nodes} nodes: {rate:.0f} pods/s bound "
          f"(cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
