"""api-write: pod creates end to end (created, scheduled, bound) from 50 clients.

A control plane with its loops (``python -m controlplane``, embedded etcd,
default profile; ``--api-workers N`` when the tree has that flag, else one
process) and one hollow agent process with 100 nodes that reports bound pods
Running.  50 ``grpc.aio`` clients in one process (each its own channel) create
pods in a row, as fast as the API answers, in a namespace watched beforehand
by a pod watch (on its own channel in the same process).

Figures: create latency p50/p99 (per call, all 50 clients), the create rate
(creates / wall time of the creating), the end-to-end rate (pods / first
create sent .. last pod seen bound on the watch), and the time from the last
create until all are bound and all are Running; and the CPU time per pod of
the control plane (all its processes), etcd, the hollow agent and the load
client over the run (seconds of CPU do not depend on how busy the machine is
the way wall times do: the figure to compare under load); and etcd's
transactions per pod (its own count of Txn calls served, from its /metrics: a
count, not a time; batching makes it fall as writes queue up).  The pair of runs -- one API
process, then N workers -- is measured one after the other in the same run,
so the machine's load hits both alike.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    SYSTEM_REPO,
    BenchResult,
    cpu_seconds,
    pod_doc,
    summary,
    system_env,
    tree_pids,
)

NAME = "api-write"
CLIENTS = 50
NODES = 100


async def _drive(address: str, clients: int, per_client: int) -> dict[str, Any]:
    import grpc

    from proto import api_pb2, api_pb2_grpc, codec

    bound: dict[str, float] = {}
    running: dict[str, float] = {}
    total = clients * per_client
    all_bound = asyncio.Event()
    all_running = asyncio.Event()
    watch_ch = grpc.aio.insecure_channel(address)
    call = api_pb2_grpc.ApiStub(watch_ch).Watch(
        api_pb2.WatchRequest(resource="pods", namespace="load"))

    async def watch() -> None:
        async for ev in call:
            if ev.type == "BOOKMARK" or not ev.HasField("object"):
                continue
            pod, now = ev.object.pod, time.perf_counter()
            if pod.spec.node_name:
                bound.setdefault(pod.metadata.name, now)
            if pod.status.phase == "Running":
                running.setdefault(pod.metadata.name, now)
            if len(bound) >= total:
                all_bound.set()
            if len(running) >= total:
                all_running.set()

    creates: list[float] = []
    sent: list[float] = []

    async def client(k: int) -> None:
        async with grpc.aio.insecure_channel(address) as ch:
            stub = api_pb2_grpc.ApiStub(ch)
            await ch.channel_ready()
            reqs = [api_pb2.CreateRequest(object=codec.decode(
                pod_doc(f"c{k:02d}-{i:04d}", namespace="load"))) for i in range(per_client)]
            await start.wait()
            for req in reqs:
                t = time.perf_counter()
                sent.append(t)
                await stub.Create(req, timeout=60)
                creates.append(time.perf_counter() - t)

    start = asyncio.Event()
    watcher = asyncio.create_task(watch())
    try:
        await asyncio.sleep(0.5)   # the watch is open
        tasks = [asyncio.create_task(client(k)) for k in range(clients)]
        await asyncio.sleep(1.0)   # every client's channel is ready
        t0 = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        t_created = time.perf_counter()
        await asyncio.wait_for(all_bound.wait(), 600)
        await asyncio.wait_for(all_running.wait(), 600)
    finally:
        call.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await watch_ch.close()
    last_bound = max(bound.values())
    return {"creates": creates, "t0": t0, "t_created": t_created, "first_sent": min(sent),
            "last_bound": last_bound, "last_running": max(running.values()), "total": total}


def _hollow(address: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "agent.hollow", "--server", address, "--nodes", str(NODES),
         "--prefix", "hollow-", "--profile", "default", "--log-level", "warning",
         "--insecure"],
        cwd=SYSTEM_REPO, env=system_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _wait_nodes(address: str, hollow: subprocess.Popen[bytes], log: Path) -> None:
    from corral.client import Client

    with Client(address) as cl:
        deadline = time.monotonic() + 180
        while True:
            ready = [n for n in cl.list("nodes").items
                     if any(c.type == "Ready" and c.status == "True"
                            for c in n.node.status.conditions)]
            if len(ready) >= NODES:
                return
            if hollow.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("hollow nodes not Ready: "
                                   + log.read_text(errors="replace")[-2000:])
            time.sleep(0.2)


def _cpu(cp_pid: int, hollow_pid: int) -> dict[str, float]:
    pids = tree_pids(cp_pid)
    etcd = [p for p in pids if Path(f"/proc/{p}/comm").read_text().strip() == "etcd"]
    return {"control plane": cpu_seconds([p for p in pids if p not in etcd]),
            "etcd": cpu_seconds(etcd), "hollow agent": cpu_seconds([hollow_pid]),
            "load client": cpu_seconds([os.getpid()])}


def _etcd_calls(cp_pid: int) -> dict[str, float]:
    """etcd's count of the gRPC calls it served, by method (Txn, Range, ...), read from
    its /metrics on the client URL of the control plane's embedded etcd."""
    import re
    import urllib.request

    for pid in tree_pids(cp_pid):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        if Path(f"/proc/{pid}/comm").read_text().strip() != "etcd" \
                or "--listen-client-urls" not in argv:
            continue
        url = argv[argv.index("--listen-client-urls") + 1].split(",")[0]
        try:
            with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
                text = resp.read().decode()
        except OSError:     # e.g. etcd with TLS: the figure is left out
            return {}
        out: dict[str, float] = {}
        for m in re.finditer(r'^grpc_server_handled_total\{[^}]*grpc_method="(\w+)"[^}]*\} (\S+)$',
                             text, re.M):
            out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(2))
        return out
    return {}


def workers_flag() -> bool:
    """Does the tree under test have ``--api-workers``?"""
    out = subprocess.run([sys.executable, "-m", "controlplane", "--help"], cwd=SYSTEM_REPO,
                         env=system_env(), capture_output=True, text=True).stdout
    return "--api-workers" in out


def one_run(workers: int, per_client: int) -> dict[str, Any]:
    from corral.client import Client
    from localcluster.cpprocess import ControlPlaneProcess
    from proto import codec

    extra = ["--api-workers", str(workers)] if workers else []
    with ControlPlaneProcess("", profile="default", extra_args=extra) as cp:
        log = cp.dir / "hollow.log"
        hollow = _hollow(cp.address, log)
        try:
            _wait_nodes(cp.address, hollow, log)
            with Client(cp.address) as cl:
                cl.create(codec.decode({"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": "load"}}))
            assert cp.pid is not None
            calls = _etcd_calls(cp.pid)
            before = _cpu(cp.pid, hollow.pid)
            out = asyncio.run(_drive(cp.address, CLIENTS, per_client))
            after = _cpu(cp.pid, hollow.pid)
            out["cpu"] = {k: after[k] - before[k] for k in before}
            calls_after = _etcd_calls(cp.pid)
            out["etcd_txns"] = calls_after.get("Txn", 0.0) - calls.get("Txn", 0.0)
            return out
        finally:
            hollow.terminate()
            try:
                hollow.wait(15)
            except subprocess.TimeoutExpired:
                hollow.kill()
                hollow.wait()


def report(res: BenchResult, label: str, d: dict[str, Any], target: bool) -> None:
    cs = summary(d["creates"])
    total = d["total"]
    res.add(f"{label}: create p50 ({CLIENTS} clients)", cs["p50"] * 1000, "ms")
    res.add(f"{label}: create p99 ({CLIENTS} clients)", cs["p99"] * 1000, "ms",
            "<= 100" if target else "")
    res.add(f"{label}: create rate", total / (d["t_created"] - d["t0"]), "pods/s")
    res.add(f"{label}: end to end rate (first create..last bound)",
            total / (d["last_bound"] - d["first_sent"]), "pods/s", ">= 1000" if target else "")
    res.add(f"{label}: last create -> all bound", d["last_bound"] - d["t_created"], "s")
    res.add(f"{label}: last create -> all Running", d["last_running"] - d["t_created"], "s")
    for who, sec in d["cpu"].items():
        res.add(f"{label}: CPU per pod, {who}", sec * 1000 / total, "ms")
    if d.get("etcd_txns"):
        res.add(f"{label}: etcd transactions per pod", d["etcd_txns"] / total, "")


def run(quick: bool = False) -> BenchResult:
    per_client = 10 if quick else 40
    res = BenchResult(NAME)
    workers = 2 if workers_flag() else 0
    report(res, "1 process", one_run(0, per_client), not workers)
    if workers:
        report(res, f"{workers} API workers", one_run(workers, per_client), True)
    res.notes.append(f"{CLIENTS} grpc.aio clients x {per_client} creates in one process; "
                     f"{NODES} hollow nodes report Running; control plane with its loops")
    return res
