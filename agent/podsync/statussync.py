"""Sends pod statuses to the control plane: latest wins, retried with back-off
while the control plane is away, nothing lost or reordered per pod."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from agent.backoff import RetryBackoff
from agent.ports import ApiConflict, ApiNotFound, ApiPort, ApiUnavailable
from agent.status import status_equal
from proto import core_pb2, kinds

log = logging.getLogger("corral.agent.status")


@dataclass
class _Pending:
    namespace: str
    name: str
    uid: str
    status: core_pb2.PodStatus


class StatusSender:
    def __init__(self, api: ApiPort, retry: RetryBackoff) -> None:
        self.api = api
        self.retry = retry
        self._pending: dict[str, _Pending] = {}
        self._sent: dict[str, core_pb2.PodStatus] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def enqueue(self, pod: core_pb2.Pod, status: core_pb2.PodStatus) -> None:
        uid = pod.metadata.uid
        sent = self._sent.get(uid)
        if sent is not None and status_equal(sent, status) and uid not in self._pending:
            return
        self._pending[uid] = _Pending(pod.metadata.namespace, pod.metadata.name, uid,
                                      _copy(status))
        self._idle.clear()
        self._wake.set()

    def forget(self, uid: str) -> None:
        self._pending.pop(uid, None)
        self._sent.pop(uid, None)

    def pending(self) -> int:
        return len(self._pending)

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def _send(self, p: _Pending) -> None:
        obj = await self.api.get("pods", p.namespace, p.name)
        pod = obj.pod
        if pod.metadata.uid != p.uid:
            raise ApiNotFound(f"pod {p.namespace}/{p.name} was replaced")
        pod.status.CopyFrom(p.status)
        await self.api.update_status(kinds.wrap(pod))

    async def run(self) -> None:
        while True:
            if not self._pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            uid, p = next(iter(self._pending.items()))
            try:
                await self._send(p)
            except ApiNotFound:
                log.debug("status of %s/%s dropped: pod gone", p.namespace, p.name,
                          extra={"pod": f"{p.namespace}/{p.name}"})
            except ApiConflict:
                continue            # re-read and try again at once
            except ApiUnavailable as e:
                delay = self.retry.next()
                log.info("control plane unavailable (%s); %d status update(s) queued, "
                         "retrying in %.1fs", e, len(self._pending), delay)
                await asyncio.sleep(delay)
                continue
            except Exception:
                log.exception("status update of %s/%s failed", p.namespace, p.name,
                              extra={"pod": f"{p.namespace}/{p.name}"})
                await asyncio.sleep(self.retry.next())
                continue
            self.retry.reset()
            if self._pending.get(uid) is p:
                del self._pending[uid]
                self._sent[uid] = p.status


def _copy(s: core_pb2.PodStatus) -> core_pb2.PodStatus:
    out = core_pb2.PodStatus()
    out.CopyFrom(s)
    return out
