"""api: create and get latency with 50 concurrent clients, and watch fan-out.

A control plane (``python -m controlplane --no-loops``, embedded etcd) on
loopback.  The load comes from one process with asyncio and ``grpc.aio``:

- 50 clients, each with its own channel, each creating R pods (in a row) then
  getting them back; latency per call, p50/p99, and the aggregate rate;
- 100 watchers (``Watch`` pods in one namespace, 10 channels x 10 streams),
  then W writes one after another: for each, the time from just before the
  Create call until all 100 watchers have received its event (and until the
  median watcher had).  The watchers run in the same process as the writer,
  so decoding 100 events is inside the figure.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.common import BenchResult, pod_doc, summary

NAME = "api"
CLIENTS = 50
WATCHERS = 100


async def _load(address: str, clients: int, per_client: int) -> dict[str, list[float]]:
    import grpc

    from proto import api_pb2, api_pb2_grpc, codec

    creates: list[float] = []
    gets: list[float] = []

    async def one(k: int) -> None:
        async with grpc.aio.insecure_channel(address) as ch:
            stub = api_pb2_grpc.ApiStub(ch)
            await ch.channel_ready()
            names = [f"c{k:02d}-{i:03d}" for i in range(per_client)]
            for name in names:
                req = api_pb2.CreateRequest(object=codec.decode(pod_doc(name, namespace="load")))
                t = time.perf_counter()
                await stub.Create(req, timeout=30)
                creates.append(time.perf_counter() - t)
            for name in names:
                req2 = api_pb2.GetRequest(resource="pods", namespace="load", name=name)
                t = time.perf_counter()
                await stub.Get(req2, timeout=30)
                gets.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(clients)))
    return {"create": creates, "get": gets, "wall": [time.perf_counter() - t0]}


async def _fanout(address: str, watchers: int, writes: int) -> tuple[list[float], list[float]]:
    import grpc

    from proto import api_pb2, api_pb2_grpc, codec

    seen: dict[str, list[float]] = {}
    want: dict[str, asyncio.Event] = {}
    channels = [grpc.aio.insecure_channel(address) for _ in range(10)]
    calls: list[Any] = []

    async def watcher(ch: Any) -> None:
        call = api_pb2_grpc.ApiStub(ch).Watch(
            api_pb2.WatchRequest(resource="pods", namespace="fan"))
        calls.append(call)
        try:
            async for ev in call:
                now = time.perf_counter()
                name = ev.object.pod.metadata.name
                lst = seen.setdefault(name, [])
                lst.append(now)
                if len(lst) == watchers and name in want:
                    want[name].set()
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise

    tasks = [asyncio.create_task(watcher(channels[i % 10])) for i in range(watchers)]
    stub = api_pb2_grpc.ApiStub(channels[0])
    worst: list[float] = []
    median: list[float] = []
    try:
        for k in range(120):  # warm-up: until one write reaches every watcher (all open)
            name = f"warm{k:03d}"
            want[name] = asyncio.Event()
            req = api_pb2.CreateRequest(object=codec.decode(pod_doc(name, namespace="fan")))
            await stub.Create(req, timeout=30)
            try:
                await asyncio.wait_for(want[name].wait(), 0.5)
                break
            except TimeoutError:
                continue
        else:
            raise RuntimeError("the 100 watches never all received a write")
        for i in range(writes):
            name = f"w{i:03d}"
            want[name] = asyncio.Event()
            req = api_pb2.CreateRequest(object=codec.decode(pod_doc(name, namespace="fan")))
            t = time.perf_counter()
            await stub.Create(req, timeout=30)
            await asyncio.wait_for(want[name].wait(), 60)
            arr = sorted(seen[name])
            worst.append(arr[-1] - t)
            median.append(arr[len(arr) // 2] - t)
            await asyncio.sleep(0.05)
    finally:
        for call in calls:
            call.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ch in channels:
            await ch.close()
    return worst, median


def run(quick: bool = False) -> BenchResult:
    from corral.client import Client
    from localcluster.cpprocess import ControlPlaneProcess
    from proto import codec

    per_client, writes = (5, 5) if quick else (20, 30)
    res = BenchResult(NAME)
    with ControlPlaneProcess("", loops=False) as cp:
        with Client(cp.address) as cl:
            for ns in ("load", "fan"):
                cl.create(codec.decode({"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": ns}}))
        load = asyncio.run(_load(cp.address, CLIENTS, per_client))
        worst, median = asyncio.run(_fanout(cp.address, WATCHERS, writes))
    cs, gs = summary(load["create"]), summary(load["get"])
    ops = len(load["create"]) + len(load["get"])
    res.add(f"create p50 ({CLIENTS} clients)", cs["p50"] * 1000, "ms")
    res.add(f"create p99 ({CLIENTS} clients)", cs["p99"] * 1000, "ms")
    res.add(f"get p50 ({CLIENTS} clients)", gs["p50"] * 1000, "ms")
    res.add(f"get p99 ({CLIENTS} clients)", gs["p99"] * 1000, "ms")
    res.add("create+get throughput", ops / load["wall"][0], "ops/s")
    ws, ms = summary(worst), summary(median)
    res.add(f"watch fan-out to all {WATCHERS} p50", ws["p50"] * 1000, "ms")
    res.add(f"watch fan-out to all {WATCHERS} p99", ws["p99"] * 1000, "ms")
    res.add("watch fan-out to median watcher p50", ms["p50"] * 1000, "ms")
    res.notes.append(f"{CLIENTS} clients x {per_client} creates then {per_client} gets; "
                     f"{writes} writes watched by {WATCHERS} watchers; one asyncio client "
                     "process (grpc.aio), control plane without loops")
    return res
