"""A watcher that fell behind resumes inside the revision it was cut in: one etcd
transaction (the scheduler's batched binds, the event recorder's batches) writes
several objects at one revision, and none of their events may be lost or repeated.
The fan-out runs on a scripted etcd watch (no etcd)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from controlplane.store.watch import Fanout, StoreEvent
from proto import api_pb2


def _ev(name: str, rev: int) -> StoreEvent:
    obj = api_pb2.Object()
    obj.pod.metadata.name = name
    return StoreEvent("ADDED", obj, rev, f"/corral/pods/default/{name}")


class _Etcd:
    """The fan-out's watch gets the batches fed to `live`; any later watch (a
    catch-up) replays the history from its start revision."""

    def __init__(self) -> None:
        self.live: asyncio.Queue[list[StoreEvent]] = asyncio.Queue()
        self.history: list[StoreEvent] = []
        self.watches = 0

    async def revision(self) -> int:
        return 10

    async def watch(self, prefix: bytes, start: int
                    ) -> AsyncIterator[tuple[int, Sequence[StoreEvent]]]:
        self.watches += 1
        if self.watches == 1:
            while True:
                batch = await self.live.get()
                self.history.extend(batch)
                yield 0, batch
        yield 0, [e for e in self.history if e.revision >= start]
        await asyncio.sleep(3600)


async def _run() -> list[str]:
    etcd = _Etcd()
    fan = Fanout(etcd, "pods", b"/corral/pods/", lambda raw: raw,  # type: ignore[arg-type]
                 lambda rev: api_pb2.Object(), history=3, queue_limit=4)
    stream = fan.stream(10)
    seen: list[str] = []
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)
    etcd.live.put_nowait([_ev("a", 11), _ev("b", 11)])      # one transaction
    seen.append((await first).object.pod.metadata.name)     # a; b waits in the queue
    # the watcher does not read while six more arrive: its queue (4) overflows, and
    # the buffer (3) no longer holds revision 11
    etcd.live.put_nowait([_ev("c", 12), _ev("d", 12), _ev("e", 13), _ev("f", 13)])
    await asyncio.sleep(0.05)
    while len(seen) < 6:
        try:
            ev = await asyncio.wait_for(stream.__anext__(), 3)
        except TimeoutError:        # nothing more comes: the list says what was lost
            break
        seen.append(ev.object.pod.metadata.name)
    await stream.aclose()
    await fan.close()
    return seen


def test_a_watcher_cut_inside_a_transaction_gets_the_rest_of_it_once() -> None:
    assert asyncio.run(_run()) == ["a", "b", "c", "d", "e", "f"]
