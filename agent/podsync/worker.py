"""One pod worker: an asyncio task per pod, level-triggered.

Each pass (`sync_once`) reads the runtime's containers of the pod and closes
the difference to the spec: the prerun hooks (network, sandbox), image pulls,
init containers in order, app containers with the restart policy and
CrashLoopBackOff, probes; or, for a pod being deleted or no longer desired,
stops everything and cleans up. Then it computes the status and queues it
when it changed. A pass is safe to run at any time; the worker runs one when
woken (watch event, container change) and at least every resync interval.

The worker drives collaborators, one concern each, that share the pod's state
(`PodRun`, run.py): PodContainers (podview.py, the runtime's listing),
Prober (probing.py), StatusReporter (podstatus.py), ContainerSync (containers.py,
with ImagePuller in pulling.py and SpecBuilder in containerspec.py) and
PodEnding (ending.py); and the pod's hooks (hook.py, hooks/). SyncContext is in
context.py.
"""

from __future__ import annotations

import asyncio

from agent import status as st
from agent.podsync import hooks as pod_hooks
from agent.podsync.containers import ContainerSync
from agent.podsync.containerspec import SpecBuilder
from agent.podsync.context import SyncContext
from agent.podsync.ending import PodEnding
from agent.podsync.events import WARNING
from agent.podsync.hook import Hooks, NotReady
from agent.podsync.listing import Signature, Snapshot, signature
from agent.podsync.podstatus import StatusReporter
from agent.podsync.podview import ByName, PodContainers
from agent.podsync.probing import Prober
from agent.podsync.run import PodRun
from agent.ports import RUNNING
from proto import core_pb2, meta_pb2

__all__ = ["PodWorker", "SyncContext"]

DEFAULT_RETRY = 2.0     # a prerun hook's NotReady without retry_after


class PodWorker:
    def __init__(self, ctx: SyncContext, pod: core_pb2.Pod, hooks: Hooks | None = None) -> None:
        self.ctx = ctx
        self.state = PodRun(ctx, pod)
        self.hooks = hooks if hooks is not None else pod_hooks.build(ctx)
        self.view = PodContainers(ctx.listing, self.state.uid)
        self.probes = Prober(self.state, self.view)
        self.status = StatusReporter(self.state, self.probes)
        self.containers = ContainerSync(self.state, self.view, self.probes,
                                        SpecBuilder(self.state, self.hooks))
        self.ending = PodEnding(self.state, self.view, self.status, self.hooks)
        self._wake = asyncio.Event()
        self._adopted = False
        self._held: set[str] = set()     # containers waiting on a prerun hook's NotReady
        # the containers as the last pass left them, when it ran to its end (the PLEG
        # wakes the worker for a listing that differs from this)
        self.seen: Signature | None = None
        self.state.wake = self.wake

    # the pod's state, as the manager, the Agent service and the eviction check see it

    @property
    def pod(self) -> core_pb2.Pod:
        return self.state.pod

    @property
    def uid(self) -> str:
        return self.state.uid

    @property
    def removed(self) -> bool:
        return self.state.removed

    @removed.setter
    def removed(self, value: bool) -> None:
        self.state.removed = value

    @property
    def provisional(self) -> bool:
        return self.state.provisional

    @provisional.setter
    def provisional(self, value: bool) -> None:
        self.state.provisional = value

    @property
    def done(self) -> bool:
        return self.state.done

    @property
    def evicted(self) -> tuple[str, str] | None:
        return self.state.evicted

    @property
    def volume_paths(self) -> dict[str, str]:
        return self.state.volume_paths

    @property
    def last_status(self) -> core_pb2.PodStatus | None:
        return self.status.last

    # ---- what happens to the pod ----------------------------------------------------

    def update(self, pod: core_pb2.Pod) -> None:
        spec_changed = pod.spec != self.state.pod.spec or _meta_changed(pod, self.state.pod)
        # the echo of our own status update (only the resourceVersion moved): no pass
        echo = not spec_changed and self.status.last is not None \
            and st.status_equal(pod.status, self.status.last)
        self.state.pod = pod
        if spec_changed and not self.state.removed:
            self.cache_pod()
        if not echo:
            self.wake()

    def cache_pod(self) -> None:
        try:
            self.ctx.store.save_pod(self.state.pod)
        except OSError:
            self.state.log.exception("pod %s: cannot cache the pod object", self.state.key)

    def remove(self) -> None:
        self.state.removed = True
        self.wake()

    def evict(self, reason: str, message: str) -> None:
        """Kill the pod's containers and fail it (reason, message): no restart."""
        if self.state.evicted is None:
            self.state.evicted = (reason, message)
            self.state.event(WARNING, reason, message)
            self.wake()

    def wake(self, snapshot: Snapshot | None = None) -> None:
        if snapshot is not None:
            self.view.give(snapshot)
        self._wake.set()

    # ---- the passes -------------------------------------------------------------------

    async def run(self) -> None:
        while not self.state.done:
            self._wake.clear()
            try:
                delay = await self.sync_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.state.log.exception("pod %s: sync failed", self.state.key)
                delay = min(self.ctx.profile.resync_interval, 5.0)
            if self.state.done:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.05))
            except TimeoutError:
                pass

    async def sync_once(self) -> float:
        """One level-triggered pass; returns seconds until the next one is due."""
        run = self.state
        run.deadline = self.ctx.profile.resync_interval
        self.seen = None
        if run.removed or run.pod.metadata.HasField("deletion_timestamp"):
            return await self.ending.terminate()
        by_name = await self.view.current()
        self.view.at_start = by_name
        if not self._adopted:
            self._adopted = True
            for inst in by_name.values():
                if inst[0].state == RUNNING:
                    run.adopted_running.add(inst[0].name)
                    run.log.info("pod %s: re-adopted running container %s (%s, pid %d)",
                                 run.key, inst[0].name, inst[0].id, inst[0].pid)
        if run.provisional and not run.adopted_running:
            return run.deadline   # nothing ran at start: wait for the control plane's word
        terminal = self.status.terminal()
        if run.evicted is not None:
            terminal = True
            by_name = await self.ending.kill_evicted(by_name)
        if run.record.start_time is None:
            run.record.start_time = self.ctx.clock()
            await run.save()
        if terminal:
            run.waiting.clear()
            for post in self.hooks.postrun:
                await post.postrun(run)
        else:
            not_ready = await self._prerun(by_name)
            if not_ready is None:
                self.view.begin_sync()
                await self.containers.sync(by_name)
                by_name = await self.view.after_sync(by_name)
            elif not_ready.keep_status and any(
                    i.state == RUNNING for inst in by_name.values() for i in inst):
                # re-adopted containers keep running; report again once the hook is
                # satisfied (e.g. the pod IP is back) rather than a bogus waiting state
                return run.deadline
        self.status.report(by_name)
        self.seen = signature([i for inst in by_name.values() for i in inst])
        return run.deadline

    async def _prerun(self, by_name: ByName) -> NotReady | None:
        """The prerun hooks in order; the first NotReady holds the containers not
        created yet (their waiting reason), until every hook is satisfied."""
        run = self.state
        for hook in self.hooks.prerun:
            not_ready = await hook.prerun(run)
            if not_ready is not None:
                self._held = set(run.not_created(by_name, not_ready.reason, not_ready.message))
                run.soon(DEFAULT_RETRY if not_ready.retry_after is None
                         else not_ready.retry_after)
                return not_ready
        for name in self._held:
            run.waiting.pop(name, None)
        self._held = set()
        return None


def _meta_changed(a: core_pb2.Pod, b: core_pb2.Pod) -> bool:
    """Metadata differs in more than the resourceVersion."""
    if a.metadata.resource_version == b.metadata.resource_version:
        return bool(a.metadata != b.metadata)
    ma, mb = meta_pb2.ObjectMeta(), meta_pb2.ObjectMeta()
    ma.CopyFrom(a.metadata)
    mb.CopyFrom(b.metadata)
    ma.resource_version = mb.resource_version = ""
    return bool(ma != mb)
