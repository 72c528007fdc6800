"""A pod worker's state and the small helpers every part of it uses (events, the
next pass's deadline, persisted restart counts, the runtime listing of its pod).

The worker is a chain of parts, one job each: workerbase -> probing -> podstatus ->
containerspec -> containers -> lifecycle -> worker (PodWorker)."""

from __future__ import annotations

import asyncio
import logging

from agent import status as st
from agent.podsync.context import SyncContext
from agent.podsync.emptydir import EVICTED
from agent.podsync.listing import Snapshot
from agent.podsync.state import PodRecord
from agent.ports import ContainerInfo, ImageInfo
from agent.probes import ProbeTracker
from proto import core_pb2

log = logging.getLogger("corral.agent.pod")


class WorkerBase:
    def __init__(self, ctx: SyncContext, pod: core_pb2.Pod) -> None:
        self.ctx = ctx
        self.pod = pod
        self.uid = pod.metadata.uid
        self.key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        # every line about this pod carries pod= and node= (structured logs)
        self.log = logging.LoggerAdapter(log, {"pod": self.key, "node": ctx.node_name})
        self.removed = False          # gone from the desired set: clean up, no Delete
        # restored from the local cache at start and not yet confirmed by the
        # control plane: keep what runs (and restart those if they crash), start
        # nothing else: the pod may have been evicted and replaced elsewhere
        # while this node was away, and two copies must never serve
        self.provisional = False
        self._adopted_running: set[str] = set()
        self.done = False             # everything cleaned up; the worker may go
        self.pod_ip = ""
        self.netns_path = ""
        self.record = ctx.store.load(self.uid)
        self.waiting: dict[str, tuple[str, str]] = {}
        self.kill_messages: dict[str, str] = {}
        self.respawn: set[str] = set()      # killed for a spec change: start again
        self.trackers: dict[tuple[str, str], ProbeTracker] = {}
        self.image_ids: dict[str, ImageInfo] = {}
        self.last_status: core_pb2.PodStatus | None = None
        self._wake = asyncio.Event()
        self._next_wake: float = 0.0
        self._deadline: float = ctx.profile.resync_interval    # of the pass under way
        self._network_error = ""
        self._adopted = False
        self._net_released = False
        self._sandbox_ok = False
        # runtime listings: one handed over with a wake-up (the PLEG's) serves the next
        # pass unless this worker changed the pod's containers after that listing began
        self._given: Snapshot | None = None
        self._min_seq = 0
        self._started_now: list[ContainerInfo] = []
        self._relist = False
        self._pass_view: dict[str, list[ContainerInfo]] = {}
        self.volume_paths: dict[str, str] = {}      # emptyDir name -> node directory
        # (reason, message) once evicted (emptyDir over its sizeLimit): containers are
        # killed and the pod stays Failed; also after an agent restart
        self.evicted: tuple[str, str] | None = None
        if pod.status.phase == st.FAILED and pod.status.reason == EVICTED:
            self.evicted = (pod.status.reason, pod.status.message)

    def event(self, type_: str, reason: str, message: str, container: str = "") -> None:
        if self.ctx.events is not None:
            self.ctx.events.record(self.pod, type_, reason, message, container)

    def _soon(self, seconds: float) -> None:
        self._deadline = min(self._deadline, max(seconds, 0.0))

    async def _save(self) -> None:
        """Persist restart counts and start time (fsync'd: off the event loop)."""
        rec = PodRecord(dict(self.record.restart_counts), self.record.start_time)
        try:
            await asyncio.to_thread(self.ctx.store.save, self.uid, rec)
        except OSError:
            self.log.exception("pod %s: cannot persist its state", self.key)

    def _changed_containers(self) -> None:
        """After a start, stop or removal: only listings begun from now on show it."""
        self._min_seq = self.ctx.listing.started + 1
        self._given = None

    async def _containers(self) -> dict[str, list[ContainerInfo]]:
        given, self._given = self._given, None
        if given is not None and given.seq >= self._min_seq:
            return given.of_pod(self.uid)
        return (await self.ctx.listing.fresh()).of_pod(self.uid)

    def _not_created(self, by_name: dict[str, list[ContainerInfo]], reason: str,
                     msg: str) -> None:
        """A waiting reason for every container that has no instance yet."""
        for c in list(self.pod.spec.init_containers) + list(self.pod.spec.containers):
            if not by_name.get(c.name):
                self.waiting[c.name] = (reason, msg)
