"""Kubernetes-style Events about pods (Pulled, Created, Started, Killing,
Unhealthy, BackOff, Failed), written best-effort through the Api.

`record` never blocks and never raises: events go to a bounded queue that a
single task drains. A repeat of the same (pod, reason, message) updates the
existing Event's count and lastTimestamp instead of creating a new one, like
kubelet's event correlator: the first `burst` repeats are written at once
(a restarted container shows up in a timeline as it happens); beyond that,
repeats are folded and written at most once per `repeat_interval`, and the
last count is always flushed. While the control plane is away, events wait
in the queue (oldest dropped beyond `max_pending`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from agent.backoff import RetryBackoff
from agent.ports import ApiConflict, ApiNotFound, ApiPort, ApiUnavailable
from agent.status import ts
from proto import core_pb2, kinds

log = logging.getLogger("corral.agent.events")

NORMAL = "Normal"
WARNING = "Warning"


@dataclass
class _Pending:
    namespace: str
    pod_name: str
    pod_uid: str
    type: str
    reason: str
    message: str
    field_path: str
    at: float
    flush: bool = False      # write the folded count of an earlier repeat


@dataclass
class _Seen:
    name: str
    count: int               # occurrences so far
    written: float           # when the Event was last written
    written_count: int = 1   # the count it was written with
    updates: int = 0         # repeats written at once (bounded by `burst`)
    flush_due: bool = False  # a flush of the folded count is scheduled


class EventRecorder:
    def __init__(self, api: ApiPort, node_name: str, retry: RetryBackoff,
                 clock: Callable[[], float] = time.time, max_pending: int = 500,
                 repeat_interval: float = 10.0, burst: int = 5) -> None:
        self.api = api
        self.node_name = node_name
        self.retry = retry
        self.clock = clock
        self.repeat_interval = repeat_interval
        self.burst = burst
        self._queue: deque[_Pending] = deque(maxlen=max_pending)
        self._wake = asyncio.Event()
        self._seen: OrderedDict[tuple[str, str, str], _Seen] = OrderedDict()

    def record(self, pod: core_pb2.Pod, type_: str, reason: str, message: str,
               container: str = "") -> None:
        m = pod.metadata
        field_path = f"spec.containers{{{container}}}" if container else ""
        self._queue.append(_Pending(m.namespace, m.name, m.uid, type_, reason, message,
                                    field_path, self.clock()))
        self._wake.set()
        log.debug("event %s %s/%s %s: %s", type_, m.namespace, m.name, reason, message)

    def pending(self) -> int:
        return len(self._queue)

    async def run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            ev = self._queue[0]
            try:
                await self._write(ev)
                self.retry.reset()
            except ApiUnavailable:
                await asyncio.sleep(self.retry.next())
                continue
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("event %s dropped: %s", ev.reason, e)
            if self._queue and self._queue[0] is ev:
                self._queue.popleft()

    def _schedule_flush(self, ev: _Pending, seen: _Seen) -> None:
        if seen.flush_due:
            return
        seen.flush_due = True
        delay = max(0.0, seen.written + self.repeat_interval - ev.at)

        def requeue() -> None:
            self._queue.append(_Pending(ev.namespace, ev.pod_name, ev.pod_uid, ev.type,
                                        ev.reason, ev.message, ev.field_path, ev.at, flush=True))
            self._wake.set()
        asyncio.get_running_loop().call_later(delay, requeue)

    async def _write(self, ev: _Pending) -> None:
        key = (ev.pod_uid, ev.reason, ev.message)
        seen = self._seen.get(key)
        if ev.flush:
            if seen is None:
                return
            seen.flush_due = False
            if seen.count == seen.written_count:
                return
            ev.at = self.clock()
        elif seen is not None:
            seen.count += 1
            if ev.at - seen.written >= self.repeat_interval:
                seen.updates = 0                 # a quiet interval refills the burst
            if seen.updates >= self.burst and ev.at - seen.written < self.repeat_interval:
                self._schedule_flush(ev, seen)   # folded; its count is written later
                return
            seen.updates += 1
        if seen is not None:
            try:
                obj = await self.api.get("events", ev.namespace, seen.name)
                e = obj.event
                e.count = seen.count
                e.last_timestamp.CopyFrom(ts(ev.at))
                await self.api.update(kinds.wrap(e))
                seen.written, seen.written_count = ev.at, seen.count
                return
            except (ApiNotFound, ApiConflict):
                del self._seen[key]
            if ev.flush:
                return
        e = core_pb2.Event(api_version="v1", kind="Event", type=ev.type, reason=ev.reason,
                           message=ev.message, count=1, reporting_component="corral-agent",
                           reporting_instance=self.node_name)
        e.metadata.namespace = ev.namespace
        e.metadata.name = f"{ev.pod_name}.{secrets.token_hex(8)}"
        ref = e.involved_object
        ref.kind, ref.api_version = "Pod", "v1"
        ref.namespace, ref.name, ref.uid = ev.namespace, ev.pod_name, ev.pod_uid
        ref.field_path = ev.field_path
        e.source.component = "corral-agent"
        e.source.host = self.node_name
        e.first_timestamp.CopyFrom(ts(ev.at))
        e.last_timestamp.CopyFrom(ts(ev.at))
        await self.api.create(kinds.wrap(e))
        self._seen[key] = _Seen(e.metadata.name, 1, ev.at)
        while len(self._seen) > 2000:
            self._seen.popitem(last=False)
