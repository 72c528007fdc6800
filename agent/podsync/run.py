"""One pod on this node: the state the pod worker's parts and its hooks share.

A `PodRun` is data with a few helpers (events, the next pass's deadline, the
persisted restart counts); the behaviour lives in the collaborators that hold it
(agent/podsync/worker.py lists them) and in the hooks (agent/podsync/hook.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent import status as st
from agent.podsync.context import SyncContext
from agent.podsync.emptydir import EVICTED
from agent.podsync.state import PodRecord
from agent.ports import ContainerInfo
from proto import core_pb2

log = logging.getLogger("corral.agent.pod")


class PodRun:
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
        self.adopted_running: set[str] = set()   # container names running when we came
        self.done = False             # everything cleaned up; the worker may go
        self.pod_ip = ""              # set by the network hook
        self.netns_path = ""
        self.record = ctx.store.load(self.uid)
        # container name -> (waiting reason, message), shown in its status
        self.waiting: dict[str, tuple[str, str]] = {}
        self.kill_messages: dict[str, str] = {}      # container id -> why we killed it
        self.volume_paths: dict[str, str] = {}       # emptyDir name -> node directory
        # (reason, message) once evicted (emptyDir over its sizeLimit): containers are
        # killed and the pod stays Failed; also after an agent restart
        self.evicted: tuple[str, str] | None = None
        if pod.status.phase == st.FAILED and pod.status.reason == EVICTED:
            self.evicted = (pod.status.reason, pod.status.message)
        self.deadline: float = ctx.profile.resync_interval    # of the pass under way
        # run a pass soon (the worker sets it): for hooks woken by something else,
        # e.g. a ConfigMap the pod mounts changed
        self.wake: Callable[[], None] = lambda: None

    def event(self, type_: str, reason: str, message: str, container: str = "") -> None:
        if self.ctx.events is not None:
            self.ctx.events.record(self.pod, type_, reason, message, container)

    def soon(self, seconds: float) -> None:
        """The next pass is due within `seconds` (the earliest wish of the pass wins)."""
        self.deadline = min(self.deadline, max(seconds, 0.0))

    def containers(self) -> list[core_pb2.Container]:
        """Init containers, then app containers."""
        return list(self.pod.spec.init_containers) + list(self.pod.spec.containers)

    async def save(self) -> None:
        """Persist restart counts and start time (fsync'd: off the event loop)."""
        rec = PodRecord(dict(self.record.restart_counts), self.record.start_time)
        try:
            await asyncio.to_thread(self.ctx.store.save, self.uid, rec)
        except OSError:
            self.log.exception("pod %s: cannot persist its state", self.key)

    def not_created(self, by_name: dict[str, list[ContainerInfo]], reason: str,
                    msg: str) -> list[str]:
        """A waiting reason for every container that has no instance yet (their names)."""
        names = [c.name for c in self.containers() if not by_name.get(c.name)]
        for name in names:
            self.waiting[name] = (reason, msg)
        return names
