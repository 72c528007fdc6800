"""Sends pod statuses to the control plane: latest wins, retried with back-off
while the control plane is away, nothing lost or reordered per pod.

Several pods' updates are in flight at once (one per pod at a time), so a
batch of pods starting together does not queue behind one round trip each.
An update is written against the resourceVersion last seen for the pod (its
watch event, or our previous update's answer): one round trip. Only when
that is stale (Conflict) is the pod read again, checked to be the same pod
(uid), and the status written against the fresh version.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass

from agent.backoff import RetryBackoff
from agent.ports import ApiConflict, ApiNotFound, ApiPort, ApiUnavailable
from agent.status import status_equal
from proto import core_pb2, kinds

log = logging.getLogger("corral.agent.status")

CONCURRENCY = 8


@dataclass
class _Pending:
    pod: core_pb2.Pod          # metadata as last seen (name, uid, resourceVersion) + status

    @property
    def label(self) -> str:
        return f"{self.pod.metadata.namespace}/{self.pod.metadata.name}"


class StatusSender:
    def __init__(self, api: ApiPort, retry: RetryBackoff,
                 concurrency: int = CONCURRENCY) -> None:
        self.api = api
        self.retry = retry
        self.concurrency = concurrency
        self._pending: dict[str, _Pending] = {}
        self._sent: dict[str, core_pb2.PodStatus] = {}
        self._versions: dict[str, str] = {}        # uid -> last resourceVersion seen
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._paused_until = 0.0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def enqueue(self, pod: core_pb2.Pod, status: core_pb2.PodStatus) -> None:
        uid = pod.metadata.uid
        self.observe(pod)
        sent = self._sent.get(uid)
        if sent is not None and status_equal(sent, status) and uid not in self._pending:
            return
        p = core_pb2.Pod()
        p.metadata.CopyFrom(pod.metadata)
        p.status.CopyFrom(status)
        self._pending[uid] = _Pending(p)
        self._idle.clear()
        self._wake.set()

    def observe(self, pod: core_pb2.Pod) -> None:
        """A newer resourceVersion of a pod (from the watch): the next write uses it.

        When that version's status is no longer the one we wrote (the node
        lifecycle controller marked the pod not ready while this node was out
        of touch, say), what we sent is forgotten, so the next enqueue of the
        node's view writes it again, as the kubelet's status manager does."""
        uid, rv = pod.metadata.uid, pod.metadata.resource_version
        if uid and rv and _newer(rv, self._versions.get(uid, "")):
            self._versions[uid] = rv
            sent = self._sent.get(uid)
            if sent is not None and not status_equal(sent, pod.status):
                del self._sent[uid]

    def forget(self, uid: str) -> None:
        self._pending.pop(uid, None)
        self._sent.pop(uid, None)
        self._versions.pop(uid, None)

    def pending(self) -> int:
        return len(self._pending)

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def _write(self, p: _Pending, rv: str) -> None:
        pod = core_pb2.Pod()
        pod.CopyFrom(p.pod)
        pod.metadata.resource_version = rv
        written = await self.api.update_status(kinds.wrap(pod))
        if written.HasField("pod"):
            self.observe(written.pod)

    async def _send(self, uid: str, p: _Pending) -> None:
        rv = self._versions.get(uid, "")
        if rv:
            try:
                await self._write(p, rv)
                return
            except ApiConflict:
                pass        # someone wrote the pod since: read it again
        obj = await self.api.get("pods", p.pod.metadata.namespace, p.pod.metadata.name)
        if obj.pod.metadata.uid != uid:
            raise ApiNotFound(f"pod {p.label} was replaced")
        self.observe(obj.pod)
        await self._write(p, obj.pod.metadata.resource_version)

    async def _deliver(self, uid: str, p: _Pending) -> None:
        try:
            await self._send(uid, p)
        except ApiNotFound:
            log.debug("status of %s dropped: pod gone", p.label, extra={"pod": p.label})
        except ApiConflict:
            return              # raced again: the run loop tries once more at once
        except ApiUnavailable as e:
            delay = self.retry.next()
            log.info("control plane unavailable (%s); %d status update(s) queued, "
                     "retrying in %.1fs", e, len(self._pending), delay)
            self._pause(delay)
            return
        except Exception:
            log.exception("status update of %s failed", p.label, extra={"pod": p.label})
            self._pause(self.retry.next())
            return
        self.retry.reset()
        now = self._pending.get(uid)
        # what was queued meanwhile may be this very status (a pass that ran while it
        # was on its way: the API did not hold it yet): written already, not again
        if now is p or (now is not None and status_equal(now.pod.status, p.pod.status)):
            del self._pending[uid]
            self._sent[uid] = p.pod.status

    def _pause(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._paused_until = max(self._paused_until, loop.time() + delay)

    def _finished(self, uid: str, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(uid, None)
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                self._wake.clear()
                wait = self._paused_until - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)       # back-off while the API is away
                    continue
                for uid, p in list(self._pending.items()):
                    if len(self._inflight) >= self.concurrency:
                        break
                    if uid in self._inflight:
                        continue
                    task = asyncio.ensure_future(self._deliver(uid, p))
                    self._inflight[uid] = task
                    task.add_done_callback(functools.partial(self._finished, uid))
                if not self._pending and not self._inflight:
                    self._idle.set()
                await self._wake.wait()
        finally:
            for t in list(self._inflight.values()):
                t.cancel()


def _newer(a: str, b: str) -> bool:
    """resourceVersions are etcd revisions: numbers (compare as such when they are)."""
    if not b:
        return True
    if a.isdigit() and b.isdigit():
        return int(a) > int(b)
    return a != b
