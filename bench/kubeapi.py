"""kube-api: the Kubernetes API (REST over HTTP/1.1) and the gRPC API side by side, on the
same control plane (``--no-loops``, embedded etcd, plaintext on loopback for both doors).

- create, get and list latency: C clients (each its own connection pool / channel), each
  creating R pods then getting them back; then every client lists the namespace
  (C*R pods) L times. p50/p99 per call and door. The Kubernetes API call SLO is the
  peer: p99 <= 1 s for single-object calls.
- watch fan-out: 100 watchers (REST: 100 streaming GETs with watch=true; gRPC: 10
  channels x 10 Watch streams), then W writes one after another: the time from just
  before the create until all 100 watchers (and the median one) saw its event.
The clients are one asyncio process (aiohttp, grpc.aio); JSON decoding of each event
is inside the REST figures, protobuf decoding inside the gRPC ones.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bench.common import BenchResult, pod_doc, summary

NAME = "kube-api"
CLIENTS = 20
WATCHERS = 100
Door = dict[str, Callable[..., Awaitable[Any]]]


async def _rest_load(url: str, ns: str, clients: int, per_client: int, lists: int,
                     ) -> dict[str, list[float]]:
    import aiohttp

    out: dict[str, list[float]] = {"create": [], "get": [], "list": []}
    base = f"{url}/api/v1/namespaces/{ns}/pods"

    async def one(k: int) -> list[str]:
        names = [f"r{k:02d}-{i:03d}" for i in range(per_client)]
        async with aiohttp.ClientSession() as s:
            for name in names:
                t = time.perf_counter()
                async with s.post(base, json=pod_doc(name, namespace=ns)) as r:
                    assert r.status == 201, await r.text()
                    await r.read()
                out["create"].append(time.perf_counter() - t)
            for name in names:
                t = time.perf_counter()
                async with s.get(f"{base}/{name}") as r:
                    json.loads(await r.read())
                out["get"].append(time.perf_counter() - t)
        return names

    await asyncio.gather(*(one(k) for k in range(clients)))

    async def lister() -> None:
        async with aiohttp.ClientSession() as s:
            for _ in range(lists):
                t = time.perf_counter()
                async with s.get(base) as r:
                    json.loads(await r.read())
                out["list"].append(time.perf_counter() - t)

    await asyncio.gather(*(lister() for _ in range(clients)))
    return out


async def _grpc_load(address: str, ns: str, clients: int, per_client: int, lists: int,
                     ) -> dict[str, list[float]]:
    import grpc

    from proto import api_pb2, api_pb2_grpc, codec

    out: dict[str, list[float]] = {"create": [], "get": [], "list": []}

    async def one(k: int) -> None:
        async with grpc.aio.insecure_channel(address) as ch:
            stub = api_pb2_grpc.ApiStub(ch)
            names = [f"g{k:02d}-{i:03d}" for i in range(per_client)]
            for name in names:
                req = api_pb2.CreateRequest(object=codec.decode(pod_doc(name, namespace=ns)))
                t = time.perf_counter()
                await stub.Create(req, timeout=30)
                out["create"].append(time.perf_counter() - t)
            for name in names:
                t = time.perf_counter()
                await stub.Get(api_pb2.GetRequest(resource="pods", namespace=ns, name=name),
                               timeout=30)
                out["get"].append(time.perf_counter() - t)
            for _ in range(lists):
                t = time.perf_counter()
                await stub.List(api_pb2.ListRequest(resource="pods", namespace=ns), timeout=30)
                out["list"].append(time.perf_counter() - t)

    await asyncio.gather(*(one(k) for k in range(clients)))
    return out


async def _fanout(create: Callable[[str], Awaitable[None]],
                  watch: Callable[[Callable[[str], None]], Coroutine[object, object, None]],
                  watchers: int, writes: int) -> tuple[list[float], list[float]]:
    """Times until all (and the median) `watchers` saw each of `writes` creates."""
    seen: dict[str, list[float]] = {}
    want: dict[str, asyncio.Event] = {}

    def saw(name: str) -> None:
        lst = seen.setdefault(name, [])
        lst.append(time.perf_counter())
        if len(lst) == watchers and name in want:
            want[name].set()

    tasks = [asyncio.create_task(watch(saw)) for _ in range(watchers)]
    worst: list[float] = []
    median: list[float] = []
    try:
        for k in range(200):   # until one write reaches every watcher (all are open)
            name = f"warm{k:03d}"
            want[name] = asyncio.Event()
            await create(name)
            try:
                await asyncio.wait_for(want[name].wait(), 0.5)
                break
            except TimeoutError:
                continue
        else:
            raise RuntimeError("the watchers never all received a write")
        for i in range(writes):
            name = f"w{i:03d}"
            want[name] = asyncio.Event()
            t = time.perf_counter()
            await create(name)
            await asyncio.wait_for(want[name].wait(), 60)
            arr = sorted(seen[name])
            worst.append(arr[-1] - t)
            median.append(arr[len(arr) // 2] - t)
            await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return worst, median


async def _rest_fanout(url: str, ns: str, watchers: int, writes: int,
                       ) -> tuple[list[float], list[float]]:
    import aiohttp

    base = f"{url}/api/v1/namespaces/{ns}/pods"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=None)) as s:
        async def create(name: str) -> None:
            async with s.post(base, json=pod_doc(name, namespace=ns)) as r:
                await r.read()

        async def watch(saw: Callable[[str], None]) -> None:
            async with s.get(base, params={"watch": "true", "resourceVersion": "",
                                           "sendInitialEvents": "false"}) as r:
                async for line in r.content:
                    if line.strip():
                        saw(json.loads(line)["object"]["metadata"]["name"])

        return await _fanout(create, watch, watchers, writes)


async def _grpc_fanout(address: str, ns: str, watchers: int, writes: int,
                       ) -> tuple[list[float], list[float]]:
    import grpc

    from proto import api_pb2, api_pb2_grpc, codec

    channels = [grpc.aio.insecure_channel(address) for _ in range(10)]
    stub = api_pb2_grpc.ApiStub(channels[0])
    count = [0]

    async def create(name: str) -> None:
        await stub.Create(api_pb2.CreateRequest(object=codec.decode(pod_doc(name,
                                                                            namespace=ns))))

    async def watch(saw: Callable[[str], None]) -> None:
        count[0] += 1
        ch = channels[count[0] % len(channels)]
        call = api_pb2_grpc.ApiStub(ch).Watch(api_pb2.WatchRequest(resource="pods",
                                                                   namespace=ns))
        try:
            async for ev in call:
                saw(ev.object.pod.metadata.name)
        finally:
            call.cancel()

    try:
        return await _fanout(create, watch, watchers, writes)
    finally:
        for ch in channels:
            await ch.close()


def run(quick: bool = False) -> BenchResult:
    from corral.client import Client
    from localcluster.cpprocess import ControlPlaneProcess
    from proto import codec

    per_client, lists, writes = (5, 3, 5) if quick else (20, 10, 30)
    res = BenchResult(NAME)
    with ControlPlaneProcess("", loops=False) as cp:
        with Client(cp.address) as cl:
            for ns in ("rest", "grpc", "rest-fan", "grpc-fan"):
                cl.create(codec.decode({"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": ns}}))
        rest = asyncio.run(_rest_load(cp.kube_url, "rest", CLIENTS, per_client, lists))
        grpc_ = asyncio.run(_grpc_load(cp.address, "grpc", CLIENTS, per_client, lists))
        rest_fan = asyncio.run(_rest_fanout(cp.kube_url, "rest-fan", WATCHERS, writes))
        grpc_fan = asyncio.run(_grpc_fanout(cp.address, "grpc-fan", WATCHERS, writes))
    for verb in ("create", "get", "list"):
        for door, figures in (("REST", rest), ("gRPC", grpc_)):
            s = summary(figures[verb])
            target = "<= 1000" if verb != "list" else ""
            res.add(f"{door} {verb} p50", s["p50"] * 1000, "ms")
            res.add(f"{door} {verb} p99", s["p99"] * 1000, "ms", target)
    for door, (worst, median) in (("REST", rest_fan), ("gRPC", grpc_fan)):
        ws, ms = summary(worst), summary(median)
        res.add(f"{door} watch fan-out to all {WATCHERS} p50", ws["p50"] * 1000, "ms")
        res.add(f"{door} watch fan-out to all {WATCHERS} p99", ws["p99"] * 1000, "ms")
        res.add(f"{door} watch fan-out to the median watcher p50", ms["p50"] * 1000, "ms")
    res.notes.append(f"{CLIENTS} clients x {per_client} creates then {per_client} gets, then "
                     f"{lists} lists of {CLIENTS * per_client} pods each, per door; {writes} "
                     f"writes watched by {WATCHERS} watchers per door; plaintext on loopback "
                     "for both doors, control plane without loops")
    return res
