"""Shared runtime listings (every caller sees a listing begun after it asked; callers
that ask together share one) and status updates (one round trip when the pod's
resourceVersion is known, several pods in flight, replaced pods left alone, a status
queued again while it is on its way written once)."""

from __future__ import annotations

import asyncio

from agent.backoff import RetryBackoff
from agent.podsync.listing import RuntimeListing
from agent.podsync.statussync import StatusSender
from agent.ports import ContainerInfo
from proto import core_pb2, kinds

from .conftest import Env
from .fakes import FakeApi, make_pod


class CountingRuntime:
    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.containers: list[ContainerInfo] = []

    async def list_containers(self) -> list[ContainerInfo]:
        self.calls += 1
        await self.gate.wait()
        return list(self.containers)


def test_listings_are_shared_but_never_older_than_the_request(
        loop: asyncio.AbstractEventLoop) -> None:
    rt = CountingRuntime()
    listing = RuntimeListing(rt)  # type: ignore[arg-type]

    async def body() -> None:
        first = asyncio.ensure_future(listing.fresh())
        await until(lambda: rt.calls == 1)
        # asked while the first listing runs: they need a newer one, and share it
        rt.containers.append(ContainerInfo(id="c1", pod_uid="u1", name="app", attempt=0,
                                           state="running"))
        asked: list[int] = []

        async def ask() -> object:
            asked.append(1)             # fresh() then runs up to its wait in this same step
            return await listing.fresh()
        later = [asyncio.ensure_future(ask()) for _ in range(10)]
        await until(lambda: len(asked) == 10)   # all asked while the first one runs
        assert rt.calls == 1
        rt.gate.set()
        a = await first
        bs = await asyncio.gather(*later)
        assert rt.calls == 2
        assert all(b is bs[0] for b in bs) and bs[0].seq == a.seq + 1
        assert list(bs[0].of_pod("u1")) == ["app"]
        c = await listing.fresh()          # nothing in flight: a new one
        assert rt.calls == 3 and c.seq == bs[0].seq + 1 and listing.latest is c
    loop.run_until_complete(body())


def test_status_written_in_one_round_trip_then_conflict_rereads(
        env: Env, loop: asyncio.AbstractEventLoop) -> None:
    api = env.api
    pod = make_pod()
    api.put(kinds.wrap(pod))
    seen = api.objects[("pods", "default", "web")].pod
    sender = StatusSender(api, RetryBackoff(0.01, 0.02))

    async def body() -> None:
        task = asyncio.ensure_future(sender.run())
        try:
            sender.enqueue(seen, core_pb2.PodStatus(phase="Running"))
            await until(lambda: sender.pending() == 0 and bool(api.statuses))
            assert api.calls == ["update_status"]           # no read first
            # someone else wrote the pod since: the stale version conflicts, one re-read
            other = api.objects[("pods", "default", "web")]
            other.pod.metadata.labels["x"] = "y"
            api.put(other)
            api.calls.clear()
            sender.enqueue(seen, core_pb2.PodStatus(phase="Succeeded"))
            await until(lambda: sender.pending() == 0 and api.statuses[-1].status.phase
                        == "Succeeded")
            assert api.calls == ["update_status", "get", "update_status"]
            assert api.objects[("pods", "default", "web")].pod.metadata.labels["x"] == "y"
            # a pod of the same name but another uid: never written
            api.objects.clear()
            new = make_pod(uid="uid-2")
            api.put(kinds.wrap(new))
            n = len(api.statuses)
            sender.enqueue(seen, core_pb2.PodStatus(phase="Failed"))
            await until(lambda: sender.pending() == 0)
            assert len(api.statuses) == n
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    loop.run_until_complete(body())


def test_several_pods_in_flight_at_once(loop: asyncio.AbstractEventLoop) -> None:
    class SlowApi(FakeApi):
        def __init__(self) -> None:
            super().__init__()
            self.inflight = self.peak = 0

        async def update_status(self, obj):  # type: ignore[no-untyped-def]
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
            await asyncio.sleep(0.05)
            self.inflight -= 1
            return await super().update_status(obj)

    api = SlowApi()
    pods = [make_pod(name=f"p{i}", uid=f"u{i}") for i in range(6)]
    for p in pods:
        api.put(kinds.wrap(p))
    sender = StatusSender(api, RetryBackoff(0.01, 0.02), concurrency=4)

    async def body() -> None:
        task = asyncio.ensure_future(sender.run())
        try:
            for p in pods:
                sender.enqueue(api.objects[("pods", "default", p.metadata.name)].pod,
                               core_pb2.PodStatus(phase="Running"))
            await until(lambda: sender.pending() == 0)
            assert len(api.statuses) == 6 and api.peak == 4
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    loop.run_until_complete(body())


def test_a_status_queued_again_while_on_its_way_is_written_once(
        loop: asyncio.AbstractEventLoop) -> None:
    class SlowApi(FakeApi):
        def __init__(self) -> None:
            super().__init__()
            self.go = asyncio.Event()
            self.inflight = 0

        async def update_status(self, obj):  # type: ignore[no-untyped-def]
            self.inflight += 1
            await self.go.wait()
            self.inflight -= 1
            return await super().update_status(obj)

    api = SlowApi()
    api.put(kinds.wrap(make_pod()))
    sender = StatusSender(api, RetryBackoff(0.01, 0.02))

    async def body() -> None:
        task = asyncio.ensure_future(sender.run())
        try:
            pod = api.objects[("pods", "default", "web")].pod
            cases = [   # on its way, queued meanwhile -> what the API gets
                ("Running", ["Running"], ["Running"]),           # a repeat: written once
                ("Failed", ["Running", "Failed"], ["Failed"]),   # back to it: once
                ("Running", ["Failed"], ["Running", "Failed"]),  # a new one: after it
            ]
            for first, then, written in cases:
                api.go.clear()
                n = len(api.statuses)
                sender.enqueue(pod, core_pb2.PodStatus(phase=first))
                await until(lambda: api.inflight == 1)
                for phase in then:
                    sender.enqueue(pod, core_pb2.PodStatus(phase=phase))
                api.go.set()
                await until(lambda: sender.pending() == 0 and api.inflight == 0)
                assert [s.status.phase for s in api.statuses[n:]] == written
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    loop.run_until_complete(body())


async def until(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)
