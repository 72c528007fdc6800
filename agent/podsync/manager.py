"""The desired set of pods (list + watch with field selector spec.nodeName),
one worker per pod, a runtime poller that wakes workers when their containers
change, and clean-up of what no desired pod owns.

While the control plane is unreachable nothing is stopped: the workers keep
their last desired pods and keep restarting/probing them; the watch retries
with a capped, jittered back-off and relists when it reconnects. Orphans
(containers, sandboxes, pod networks of pods that are not desired) are
cleaned up only after a successful list.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent.backoff import RetryBackoff
from agent.listwatch import list_watch
from agent.podsync.listing import Signature, signature
from agent.podsync.worker import PodWorker, SyncContext
from agent.ports import ContainerInfo
from proto import api_pb2, core_pb2

log = logging.getLogger("corral.agent.pods")


class PodManager:
    def __init__(self, ctx: SyncContext, pleg_interval: float = 1.0) -> None:
        self.ctx = ctx
        self.pleg_interval = pleg_interval
        self.workers: dict[str, PodWorker] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.listed = asyncio.Event()         # first successful list done
        self.relists = 0
        self._signatures: dict[str, Signature] = {}
        self._cleaned = False
        self.on_change: Callable[[], None] | None = None

    @property
    def selector(self) -> str:
        return f"spec.nodeName={self.ctx.node_name}"

    # ---- the desired set --------------------------------------------------------------

    def _spawn(self, pod: core_pb2.Pod) -> PodWorker:
        w = PodWorker(self.ctx, pod)
        uid = pod.metadata.uid
        self.workers[uid] = w
        task = asyncio.ensure_future(self._run_worker(w))
        self.tasks[uid] = task
        return w

    async def _run_worker(self, w: PodWorker) -> None:
        try:
            await w.run()
        finally:
            if self.workers.get(w.uid) is w:
                del self.workers[w.uid]
                self.tasks.pop(w.uid, None)

    def restore(self) -> int:
        """At start, before the control plane answers: look after the pods this
        node ran last time (their cached objects), so crashed containers are
        restarted and probes run even while the control plane is away. The
        first list confirms or removes them."""
        n = 0
        for pod in self.ctx.store.load_pods():
            if pod.metadata.uid and pod.metadata.uid not in self.workers:
                self._spawn(pod).provisional = True
                n += 1
        if n:
            log.info("looking after %d pod(s) from the local cache until the control plane "
                     "answers", n)
        return n

    def upsert(self, pod: core_pb2.Pod) -> None:
        if pod.spec.node_name != self.ctx.node_name:
            self.remove(pod.metadata.uid)
            return
        self.ctx.statuses.observe(pod)
        w = self.workers.get(pod.metadata.uid)
        if w is None:
            w = self._spawn(pod)
            w.cache_pod()
        elif not w.removed:
            w.provisional = False       # the control plane confirms it
            w.update(pod)

    def remove(self, uid: str) -> None:
        w = self.workers.get(uid)
        if w is not None:
            w.remove()

    def set_desired(self, pods: list[core_pb2.Pod]) -> None:
        """A full list: start/update these, stop every other pod's worker."""
        uids = {p.metadata.uid for p in pods}
        for uid in list(self.workers):
            if uid not in uids:
                self.remove(uid)
        for p in pods:
            self.upsert(p)

    def handle(self, ev_type: str, pod: core_pb2.Pod) -> None:
        if ev_type == "DELETED":
            self.remove(pod.metadata.uid)
        elif ev_type in ("ADDED", "MODIFIED"):
            self.upsert(pod)

    def worker_by_name(self, namespace: str, name: str) -> PodWorker | None:
        for w in self.workers.values():
            if w.pod.metadata.namespace == namespace and w.pod.metadata.name == name \
                    and not w.removed:
                return w
        return None

    # ---- list / watch ----------------------------------------------------------------

    async def run_source(self) -> None:
        """The desired pods: list and watch this node's pods (agent/listwatch.py)."""
        retry = RetryBackoff(self.ctx.profile.api_retry_initial, self.ctx.profile.api_retry_max)
        await list_watch(self.ctx.api, "pods", self, retry, log, field_selector=self.selector)

    async def on_list(self, items: api_pb2.ObjectList) -> None:
        self.set_desired([o.pod for o in items.items])
        self.relists += 1
        if not self.listed.is_set():
            self.listed.set()
            await self.cleanup_orphans()

    async def on_event(self, ev: api_pb2.WatchEvent) -> None:
        self.handle(ev.type, ev.object.pod)

    # ---- runtime events ----------------------------------------------------------------

    @staticmethod
    def _signature(cs: list[ContainerInfo]) -> Signature:
        return signature(cs)

    async def poll_runtime_once(self) -> None:
        snap = await self.ctx.listing.fresh()
        by_pod = snap.by_pod
        for uid in set(by_pod) | set(self._signatures):
            sig = self._signature(by_pod.get(uid, []))
            if self._signatures.get(uid) != sig:
                self._signatures[uid] = sig
                w = self.workers.get(uid)
                # no news to a worker whose last pass ended seeing just this (the
                # containers it started itself, say): a change since is still news
                if w is not None and w.seen != sig:
                    w.wake(snap)        # this listing serves the worker's next pass
            if uid not in by_pod:
                self._signatures.pop(uid, None)

    async def run_pleg(self) -> None:
        while True:
            try:
                await self.poll_runtime_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("listing the runtime's containers failed")
            await asyncio.sleep(self.pleg_interval)

    # ---- orphans -------------------------------------------------------------------------

    async def cleanup_orphans(self) -> None:
        """After the first successful list: stop and remove what no desired pod owns."""
        keep = set(self.workers)
        orphans: dict[str, ContainerInfo] = {}
        for c in (await self.ctx.listing.fresh()).all():
            if c.pod_uid not in keep:
                orphans.setdefault(c.pod_uid, c)
        for uid, c in orphans.items():
            log.info("pod %s/%s (%s) is not desired on this node: cleaning up",
                     c.namespace, c.pod_name, uid,
                     extra={"pod": f"{c.namespace}/{c.pod_name}", "node": self.ctx.node_name})
            pod = core_pb2.Pod()
            pod.metadata.uid = uid
            pod.metadata.namespace = c.namespace
            pod.metadata.name = c.pod_name
            pod.spec.node_name = self.ctx.node_name
            w = self._spawn(pod)
            w.removed = True
        # the removal workers clean their own pods up (with a grace period):
        # keep those too, and let the runtime and network drop half-made leftovers
        keep = set(self.workers)
        for name, fn in (("runtime", self.ctx.runtime.cleanup_orphans),
                         ("network", self.ctx.network.cleanup_orphans)):
            try:
                await fn(keep)
            except Exception:
                log.exception("%s orphan clean-up failed", name)
        for uid in self.ctx.store.uids():
            if uid not in keep:
                self.ctx.store.delete(uid)
        self._cleaned = True

    async def stop(self) -> None:
        for t in list(self.tasks.values()):
            t.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await self.ctx.config.close()
