"""The agent's EventRecorder: repeats update one Event's count, the first few at once
(a restarted container shows in a timeline as it happens), and a folded count is
always written eventually."""

from __future__ import annotations

import asyncio
import time

from agent.backoff import RetryBackoff
from agent.podsync.events import NORMAL, EventRecorder
from proto import core_pb2
from tests.unit.agent.fakes import FakeApi


def _pod() -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.namespace, p.metadata.name, p.metadata.uid = "default", "web-1", "uid-1"
    return p


def _events(api: FakeApi) -> list[core_pb2.Event]:
    return [o.event for (r, _, _), o in api.objects.items() if r == "events"]


async def _until(cond, timeout: float = 5.0) -> None:   # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def test_repeats_within_the_burst_are_written_at_once() -> None:
    async def main() -> None:
        api = FakeApi()
        rec = EventRecorder(api, "n1", RetryBackoff(0.01, 0.02), repeat_interval=3600, burst=2)
        task = asyncio.ensure_future(rec.run())
        try:
            for _ in range(3):
                rec.record(_pod(), NORMAL, "Started", "Started container web", "web")
                await _until(lambda: rec.pending() == 0)
            evs = _events(api)
            assert len(evs) == 1 and evs[0].count == 3
            assert evs[0].involved_object.field_path == "spec.containers{web}"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    asyncio.run(main())


def test_folded_repeats_are_flushed_after_the_interval() -> None:
    async def main() -> None:
        api = FakeApi()
        rec = EventRecorder(api, "n1", RetryBackoff(0.01, 0.02), repeat_interval=0.3, burst=0)
        task = asyncio.ensure_future(rec.run())
        try:
            for _ in range(4):
                rec.record(_pod(), NORMAL, "BackOff", "Back-off restarting failed container")
            await _until(lambda: rec.pending() == 0)
            assert [e.count for e in _events(api)] == [1]       # repeats folded for now
            await _until(lambda: [e.count for e in _events(api)] == [4])
            evs = _events(api)
            assert evs[0].last_timestamp.seconds >= evs[0].first_timestamp.seconds
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    asyncio.run(main())
