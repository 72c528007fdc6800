"""One pod worker: an asyncio task per pod, level-triggered.

Each pass (`sync_once`) reads the runtime's containers of the pod and closes
the difference to the spec: network and sandbox, image pulls, init
containers in order, app containers with the restart policy and
CrashLoopBackOff, probes; or, for a pod being deleted or no longer desired,
stops everything and cleans up. Then it computes the status and queues it
when it changed. A pass is safe to run at any time; the worker runs one when
woken (watch event, container change) and at least every resync interval.

The parts, one job each (a chain of classes): workerbase.py (state, helpers),
probing.py, podstatus.py, containerspec.py (image, spec, mounts), containers.py
(init/app containers, restarts), lifecycle.py (network, sandbox, eviction,
termination); this file drives the passes. SyncContext is in context.py.
"""

from __future__ import annotations

import asyncio

from agent import status as st
from agent.podsync.context import SyncContext
from agent.podsync.events import WARNING
from agent.podsync.lifecycle import LifecyclePart
from agent.podsync.listing import Snapshot
from agent.ports import RUNNING
from proto import core_pb2, meta_pb2

__all__ = ["PodWorker", "SyncContext"]


class PodWorker(LifecyclePart):
    def update(self, pod: core_pb2.Pod) -> None:
        spec_changed = pod.spec != self.pod.spec or _meta_changed(pod, self.pod)
        # the echo of our own status update (only the resourceVersion moved): no pass
        echo = not spec_changed and self.last_status is not None \
            and st.status_equal(pod.status, self.last_status)
        self.pod = pod
        if spec_changed and not self.removed:
            self.cache_pod()
        if not echo:
            self.wake()

    def cache_pod(self) -> None:
        try:
            self.ctx.store.save_pod(self.pod)
        except OSError:
            self.log.exception("pod %s: cannot cache the pod object", self.key)

    def remove(self) -> None:
        self.removed = True
        self.wake()

    def evict(self, reason: str, message: str) -> None:
        """Kill the pod's containers and fail it (reason, message): no restart."""
        if self.evicted is None:
            self.evicted = (reason, message)
            self.event(WARNING, reason, message)
            self.wake()

    def wake(self, snapshot: Snapshot | None = None) -> None:
        if snapshot is not None and snapshot.seq >= self._min_seq:
            self._given = snapshot
        self._wake.set()

    async def run(self) -> None:
        while not self.done:
            self._wake.clear()
            try:
                delay = await self.sync_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("pod %s: sync failed", self.key)
                delay = min(self.ctx.profile.resync_interval, 5.0)
            if self.done:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.05))
            except TimeoutError:
                pass

    async def sync_once(self) -> float:
        """One level-triggered pass; returns seconds until the next one is due."""
        self._deadline = self.ctx.profile.resync_interval
        if self.removed or self.pod.metadata.HasField("deletion_timestamp"):
            return await self._terminate()
        by_name = await self._containers()
        self._pass_view = by_name
        if not self._adopted:
            self._adopted = True
            for inst in by_name.values():
                if inst[0].state == RUNNING:
                    self._adopted_running.add(inst[0].name)
                    self.log.info("pod %s: re-adopted running container %s (%s, pid %d)", self.key,
                             inst[0].name, inst[0].id, inst[0].pid)
        if self.provisional and not self._adopted_running:
            return self._deadline   # nothing ran at start: wait for the control plane's word
        spec = self.pod.spec
        policy = spec.restart_policy or "Always"
        terminal = self.last_status is not None and self.last_status.phase in (
            st.SUCCEEDED, st.FAILED)
        terminal = terminal or self.pod.status.phase in (st.SUCCEEDED, st.FAILED)
        if self.evicted is not None:
            terminal = True
            by_name = await self._kill_evicted(by_name)
        if self.record.start_time is None:
            self.record.start_time = self.ctx.clock()
            await self._save()
        if terminal:
            self.waiting.clear()
            await self._release_network()
        elif not await self._ensure_network(by_name):
            if any(i.state == RUNNING for inst in by_name.values() for i in inst):
                # re-adopted containers keep running; report again once the
                # network (the pod IP) is back rather than a bogus waiting state
                return self._deadline
        elif await self._ensure_sandbox(by_name):
            self._started_now, self._relist = [], False
            if await self._sync_init(by_name, policy):
                await self._sync_app(by_name, policy)
            if self._relist:
                by_name = await self._containers()
            else:       # only starts (or nothing): their infos complete the listing
                for info in self._started_now:
                    by_name.setdefault(info.name, []).insert(0, info)
        self._report(by_name)
        return self._deadline


def _meta_changed(a: core_pb2.Pod, b: core_pb2.Pod) -> bool:
    """Metadata differs in more than the resourceVersion."""
    if a.metadata.resource_version == b.metadata.resource_version:
        return bool(a.metadata != b.metadata)
    ma, mb = meta_pb2.ObjectMeta(), meta_pb2.ObjectMeta()
    ma.CopyFrom(a.metadata)
    mb.CopyFrom(b.metadata)
    ma.resource_version = mb.resource_version = ""
    return bool(ma != mb)
