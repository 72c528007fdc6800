"""The probes of the scale benchmark (bench/scale.py), all grpc.aio in one process:
bulk creates, a list+watch that stamps bound/Running, single-object call latency,
listing every pod, and watch fan-out to many watchers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.common import pod_doc


async def create_many(address: str, namespace: str, names: list[str],
                      clients: int = 50) -> float:
    """Create the pods from `clients` channels at once; returns the wall time."""
    import grpc

    from proto import api_pb2, api_pb2_grpc, codec

    async def one(part: list[str]) -> None:
        async with grpc.aio.insecure_channel(address) as ch:
            stub = api_pb2_grpc.ApiStub(ch)
            for name in part:
                req = api_pb2.CreateRequest(object=codec.decode(pod_doc(name, namespace=namespace)))
                await stub.Create(req, timeout=120)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(names[k::clients]) for k in range(clients)))
    return time.perf_counter() - t0


async def wait_running(address: str, namespace: str, total: int,
                       timeout: float) -> dict[str, list[float]]:
    """List, then watch from the list's revision until `total` pods of `namespace` run.
    Returns the PodScheduled stamps (the scheduler's bind times, epoch seconds) of all."""
    import grpc

    from proto import api_pb2, api_pb2_grpc

    running: set[str] = set()
    sched: dict[str, float] = {}

    def see(pod: Any) -> None:
        for c in pod.status.conditions:
            if c.type == "PodScheduled" and c.status == "True":
                sched[pod.metadata.name] = c.last_transition_time.seconds + \
                    c.last_transition_time.nanos / 1e9
        if pod.status.phase == "Running":
            running.add(pod.metadata.name)

    opts = [("grpc.max_receive_message_length", 1 << 30)]
    async with grpc.aio.insecure_channel(address, options=opts) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        lst = await stub.List(api_pb2.ListRequest(resource="pods", namespace=namespace),
                              timeout=300)
        for o in lst.items:
            see(o.pod)
        call = stub.Watch(api_pb2.WatchRequest(resource="pods", namespace=namespace,
                                               resource_version=lst.resource_version))

        async def follow() -> None:
            async for ev in call:
                if ev.type != "BOOKMARK" and ev.HasField("object"):
                    see(ev.object.pod)
                    if len(running) >= total:
                        return

        try:
            if len(running) < total:
                await asyncio.wait_for(follow(), timeout)
        finally:
            call.cancel()
    return {"scheduled": sorted(sched.values())}


async def call_latency(address: str, namespace: str, existing: list[str],
                       clients: int = 20, per_client: int = 25) -> dict[str, list[float]]:
    """Per client and round: get an existing pod (each a different one), create a pod,
    update the pod read (a label; CAS on its resourceVersion)."""
    import grpc

    from proto import api_pb2, api_pb2_grpc, codec

    out: dict[str, list[float]] = {"get": [], "create": [], "update": []}

    async def one(k: int) -> None:
        async with grpc.aio.insecure_channel(address) as ch:
            stub = api_pb2_grpc.ApiStub(ch)
            for i in range(per_client):
                t = time.perf_counter()
                got = await stub.Get(api_pb2.GetRequest(
                    resource="pods", namespace=namespace, name=existing[(k * per_client + i)
                                                                        % len(existing)]),
                    timeout=60)
                t1 = time.perf_counter()
                await stub.Create(api_pb2.CreateRequest(object=codec.decode(
                    pod_doc(f"probe-{k:02d}-{i:03d}", namespace="probe"))), timeout=60)
                t2 = time.perf_counter()
                got.pod.metadata.labels["probed"] = "yes"   # the pod just read: at rest
                await stub.Update(api_pb2.UpdateRequest(object=got), timeout=60)
                t3 = time.perf_counter()
                out["get"].append(t1 - t)
                out["create"].append(t2 - t1)
                out["update"].append(t3 - t2)

    await asyncio.gather(*(one(k) for k in range(clients)))
    return out


async def list_all(address: str, times: int = 3) -> tuple[list[float], int]:
    """List every pod in every namespace, `times` in a row; (seconds each, items)."""
    import grpc

    from proto import api_pb2, api_pb2_grpc

    out: list[float] = []
    n = 0
    opts = [("grpc.max_receive_message_length", 1 << 30)]
    async with grpc.aio.insecure_channel(address, options=opts) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        for _ in range(times):
            t = time.perf_counter()
            lst = await stub.List(api_pb2.ListRequest(resource="pods"), timeout=300)
            out.append(time.perf_counter() - t)
            n = len(lst.items)
    return out, n


async def fanout(address: str, watchers: int, writes: int,
                 per_channel: int = 10) -> tuple[list[float], list[float]]:
    """`watchers` pod watches on namespace "fan"; for each write, the time until all
    (and the median watcher) received it."""
    import grpc

    from proto import api_pb2, api_pb2_grpc, codec

    seen: dict[str, list[float]] = {}
    done: dict[str, asyncio.Event] = {}
    channels = [grpc.aio.insecure_channel(address)
                for _ in range(max(1, watchers // per_channel))]
    calls: list[Any] = []

    async def watcher(ch: Any) -> None:
        call = api_pb2_grpc.ApiStub(ch).Watch(
            api_pb2.WatchRequest(resource="pods", namespace="fan"))
        calls.append(call)
        try:
            async for ev in call:
                name = ev.object.pod.metadata.name
                lst = seen.setdefault(name, [])
                lst.append(time.perf_counter())
                if len(lst) == watchers and name in done:
                    done[name].set()
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise

    tasks = [asyncio.create_task(watcher(channels[i % len(channels)]))
             for i in range(watchers)]
    stub = api_pb2_grpc.ApiStub(channels[0])
    worst: list[float] = []
    median: list[float] = []
    try:
        for k in range(600):   # warm-up: until one write reaches every watcher
            name = f"warm{k:03d}"
            done[name] = asyncio.Event()
            await stub.Create(api_pb2.CreateRequest(object=codec.decode(
                pod_doc(name, namespace="fan"))), timeout=60)
            try:
                await asyncio.wait_for(done[name].wait(), 1.0)
                break
            except TimeoutError:
                continue
        else:
            raise RuntimeError(f"the {watchers} watches never all received a write")
        for i in range(writes):
            name = f"w{i:03d}"
            done[name] = asyncio.Event()
            t = time.perf_counter()
            await stub.Create(api_pb2.CreateRequest(object=codec.decode(
                pod_doc(name, namespace="fan"))), timeout=60)
            await asyncio.wait_for(done[name].wait(), 120)
            arr = sorted(seen[name])
            worst.append(arr[-1] - t)
            median.append(arr[len(arr) // 2] - t)
            await asyncio.sleep(0.1)
    finally:
        for call in calls:
            call.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ch in channels:
            await ch.close()
    return worst, median
