"""Events: what the loops did and why, as v1 Event objects.

``EventRecorder.record(obj, type, reason, message)`` returns at once; a
background task writes the Event. Events about the same (object, reason,
message) are aggregated into one Event whose ``count`` goes up and whose
``lastTimestamp`` moves, like Kubernetes. Recording never raises into the
caller: failures are logged and the event is dropped (events are best effort).

Events queued together are written together: a worker takes what is queued
(up to _BATCH) and creates the new ones in one etcd transaction
(``Client.create_all``), so a scheduler binding hundreds of pods a second
does not pay an etcd round trip per "Scheduled" event; repeats (count
updates) and anything the batch could not write go one at a time. Two workers
by default (Kubernetes' event sink writes from one goroutine): with more, each
idle worker took the next event as it came and wrote it alone, so under a steady
stream almost every event cost a transaction of its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from controlplane import errors
from controlplane.client import Client
from controlplane.objects import now_ts, reference_of
from proto import api_pb2, core_pb2, meta_pb2

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"

_MAX_PENDING = 10000
_MAX_CACHE = 4096
_BATCH = 50

Item = tuple[meta_pb2.ObjectReference, str, str, str]   # (ref, type, reason, message)


class EventRecorder:
    def __init__(self, client: Client, component: str, host: str = "",
                 *, concurrency: int = 2, repeat_interval: float = 2.0) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._queue: asyncio.Queue[Item] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._concurrency = concurrency
        # (uid|kind/ns/name, reason, message) -> (namespace, event name)
        self._seen: OrderedDict[tuple[str, str, str], tuple[str, str]] = OrderedDict()
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self.dropped = 0
        # spam filter: a repeat of an aggregated event is written at most once per
        # repeat_interval; the repeats in between are added to the next write's count
        self.repeat_interval = repeat_interval
        self._last_write: dict[tuple[str, str, str], float] = {}
        self._unwritten: dict[tuple[str, str, str], int] = {}

    # ---- public ----------------------------------------------------------
    def record(self, obj: api_pb2.Object | meta_pb2.ObjectReference, type: str,
               reason: str, message: str) -> None:
        """Queue an event about obj; never blocks, never raises."""
        try:
            ref = obj if isinstance(obj, meta_pb2.ObjectReference) else reference_of(obj)
            q = self._ensure_started()
            if q.qsize() >= _MAX_PENDING:
                self.dropped += 1
                log.warning("event queue full: dropping %s %s %s", type, reason, message)
                return
            q.put_nowait((ref, type, reason, message))
        except Exception:  # never into the caller
            log.exception("recording event %s %s failed", reason, message)

    async def record_now(self, obj: api_pb2.Object | meta_pb2.ObjectReference, type: str,
                         reason: str, message: str) -> None:
        """Write the event now (awaits the write); never raises."""
        try:
            ref = obj if isinstance(obj, meta_pb2.ObjectReference) else reference_of(obj)
            await self._write(ref, type, reason, message)
        except Exception:
            log.exception("recording event %s %s failed", reason, message)

    async def flush(self) -> None:
        """Wait until every queued event has been written (or dropped)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        self._queue = None

    # ---- internals -------------------------------------------------------
    def _ensure_started(self) -> asyncio.Queue[Item]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            for i in range(self._concurrency):
                self._tasks.append(asyncio.create_task(self._worker(), name=f"events-{i}"))
        return self._queue

    async def _worker(self) -> None:
        q = self._queue
        assert q is not None
        while True:
            batch = [await q.get()]
            while len(batch) < _BATCH and not q.empty():
                batch.append(q.get_nowait())
            try:
                await self._write_batch(batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # e.g. etcd unavailable: these events are dropped
                log.exception("writing %d events failed", len(batch))
            finally:
                for _ in batch:
                    q.task_done()

    async def _write_batch(self, batch: list[Item]) -> None:
        """New events of the batch in one transaction; the rest one at a time."""
        fresh: list[tuple[tuple[str, str, str], Item]] = []
        rest: list[Item] = []
        held: list[asyncio.Lock] = []
        for item in batch:
            agg = _agg(item[0], item[2], item[3])
            lock = self._lock(agg)
            if len(batch) == 1 or agg in self._seen or lock.locked():
                rest.append(item)
                continue
            await lock.acquire()   # free: taken at once
            held.append(lock)
            fresh.append((agg, item))
        try:
            if len(fresh) > 1:
                try:
                    created = await self.client.create_all(
                        [self._new_event(*item) for _, item in fresh])
                    for (agg, _), obj in zip(fresh, created, strict=True):
                        self._remember(agg, obj)
                    fresh = []
                except (errors.AlreadyExists, errors.Conflict, errors.BadRequest) as e:
                    log.debug("batch of %d events: %s; one at a time", len(fresh), e)
            rest = [item for _, item in fresh] + rest
        finally:
            for lock in held:
                lock.release()
        for ref, type_, reason, message in rest:
            try:
                await self._write(ref, type_, reason, message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing event %s failed", reason)

    def _lock(self, agg: tuple[str, str, str]) -> asyncio.Lock:
        if len(self._locks) > _MAX_CACHE:
            for k in [k for k, lk in self._locks.items() if not lk.locked()]:
                del self._locks[k]
        return self._locks.setdefault(agg, asyncio.Lock())

    async def _write(self, ref: meta_pb2.ObjectReference, type_: str, reason: str,
                     message: str) -> None:
        agg = _agg(ref, reason, message)
        async with self._lock(agg):
            await self._write_locked(agg, ref, type_, reason, message)

    async def _write_locked(self, agg: tuple[str, str, str], ref: meta_pb2.ObjectReference,
                            type_: str, reason: str, message: str) -> None:
        known = self._seen.get(agg)
        now = time.monotonic()
        if known is not None and now - self._last_write.get(agg, 0.0) < self.repeat_interval:
            self._unwritten[agg] = self._unwritten.get(agg, 0) + 1
            return
        if known is not None:
            ns, name = known
            extra = self._unwritten.pop(agg, 0)
            for _ in range(3):
                try:
                    cur = await self.client.get("events", ns, name)
                except errors.NotFound:
                    break
                ev = cur.event
                ev.count = max(ev.count, 1) + 1 + extra
                ev.last_timestamp.CopyFrom(now_ts())
                try:
                    await self.client.update(cur)
                    self._seen.move_to_end(agg)
                    self._last_write[agg] = time.monotonic()
                    return
                except errors.Conflict:
                    continue
            self._seen.pop(agg, None)
        obj = self._new_event(ref, type_, reason, message)
        try:
            created = await self.client.create(obj)
        except errors.AlreadyExists:
            obj.event.metadata.name = f"{ref.name}.{time.time_ns():x}"
            created = await self.client.create(obj)
        self._remember(agg, created)

    def _new_event(self, ref: meta_pb2.ObjectReference, type_: str, reason: str,
                   message: str) -> api_pb2.Object:
        ts = now_ts()
        ev = core_pb2.Event(
            metadata=meta_pb2.ObjectMeta(name=f"{ref.name}.{time.time_ns():x}",
                                         namespace=ref.namespace or "default"),
            involved_object=ref, reason=reason, message=message,
            source=core_pb2.EventSource(component=self.component, host=self.host),
            count=1, type=type_, reporting_component=self.component,
            reporting_instance=self.host)
        ev.first_timestamp.CopyFrom(ts)
        ev.last_timestamp.CopyFrom(ts)
        return api_pb2.Object(event=ev)

    def _remember(self, agg: tuple[str, str, str], created: api_pb2.Object) -> None:
        m = created.event.metadata
        self._seen[agg] = (m.namespace, m.name)
        self._last_write[agg] = time.monotonic()
        while len(self._seen) > _MAX_CACHE:
            old, _ = self._seen.popitem(last=False)
            self._last_write.pop(old, None)
            self._unwritten.pop(old, None)


def _agg(ref: meta_pb2.ObjectReference, reason: str, message: str) -> tuple[str, str, str]:
    """What aggregates: the same object, reason and message."""
    return (ref.uid or f"{ref.kind}/{ref.namespace}/{ref.name}", reason, message)
