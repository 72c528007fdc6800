"""The scheduler: binds pending pods to nodes.

One scheduling loop takes a pod from the SchedulingQueue, runs the filter
plugins over the NodeInfo cache and scores the feasible nodes (normalised 0-100,
weighted: placement.py), assumes the pod onto the best node in the cache and
starts the bind (through the Client, compare-and-swap on the pod's
resourceVersion, the informer's copy: no read first; binds that queue up go in
one transaction, see binder.py) as a separate task, so the next pod is
scheduled while the bind is in flight (kube-scheduler's scheduling cycle /
binding cycle). A failed bind forgets the assumption and retries the pod after
a back-off; a Conflict re-reads the pod and never binds a pod that is already
bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence

from controlplane import errors, events
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.objects import copy_of, now_ts
from controlplane.profiles import DEFAULT, Profile
from controlplane.tasks import cancel_and_wait
from proto import api_pb2, core_pb2

from . import plugins
from .binder import Binder
from .cache import Cache
from .framework import Handle, PodInfo, PreBindPlugin, Status
from .placement import Placement, find_node, fit_error_message
from .queue import SchedulingQueue
from .resources import pod_info

log = logging.getLogger(__name__)

SCHEDULER_NAMES = ("", "default-scheduler", "corral-scheduler")


def is_ready_for_scheduling(pod: core_pb2.Pod, names: Sequence[str] = SCHEDULER_NAMES) -> bool:
    return (not pod.spec.node_name and not pod.metadata.HasField("deletion_timestamp")
            and pod.status.phase not in ("Succeeded", "Failed")
            and pod.spec.scheduler_name in names)


NodeFacts = tuple[dict[str, str], dict[str, str], dict[str, str], bool,
                  tuple[tuple[str, str, str], ...], str]


def _node_relevant(n: core_pb2.Node) -> NodeFacts:
    """What of a node can make an unschedulable pod fit."""
    ready = next((c.status for c in n.status.conditions if c.type == "Ready"), "")
    return (dict(n.status.allocatable), dict(n.status.capacity), dict(n.metadata.labels),
            n.spec.unschedulable, tuple((t.key, t.value, t.effect) for t in n.spec.taints), ready)


class Scheduler:
    def __init__(self, client: Client, factory: InformerFactory, *,
                 profile: Profile = DEFAULT, recorder: events.EventRecorder | None = None,
                 filters: Iterable[str] = plugins.DEFAULT_FILTERS,
                 scores: Iterable[tuple[str, int]] = plugins.DEFAULT_SCORES,
                 prebinds: Iterable[str] = plugins.DEFAULT_PREBINDS,
                 bind_concurrency: int = 64) -> None:
        self.client = client
        self.recorder = recorder or events.EventRecorder(client, "default-scheduler")
        self.profile = profile
        self.cache = Cache()
        self.queue = SchedulingQueue(backoff_initial=profile.schedule_backoff_initial,
                                     backoff_max=profile.schedule_backoff_max,
                                     flush_after=profile.unschedulable_flush)
        args = {"handle": Handle(client, factory, self.queue.move_all_to_active_or_backoff)}
        self.filters = [plugins.FILTERS[n](args) for n in filters]
        self.scores = [(plugins.SCORES[n](args), w) for n, w in scores]
        self._next_start = 0     # where the next search over the nodes starts (placement.py)
        by_name = {f.name: f for f in self.filters}
        self.prebinds = [p if isinstance(p := by_name.get(n), PreBindPlugin)
                         else plugins.PREBINDS[n](args) for n in prebinds]
        self.pods = factory.informer("pods")
        self.nodes = factory.informer("nodes")
        self.pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_deleted))
        self.nodes.add_handler(Handler(self._node_added, self._node_updated, self._node_deleted))
        self._bind_sem = asyncio.Semaphore(bind_concurrency)
        self.binder = Binder(client)
        self._tasks: set[asyncio.Task[None]] = set()
        # unschedulable reports: at most one in flight per pod (the latest message wins),
        # and a bounded number at once, so a storm of retries cannot flood etcd
        self._report_pending: dict[str, tuple[api_pb2.Object, str]] = {}
        self._report_sem = asyncio.Semaphore(16)
        self.bound = 0
        self.unschedulable_attempts = 0
        # metrics hook (controlplane/metrics.py): seconds of each scheduling cycle
        self.on_cycle: Callable[[float], None] | None = None

    # ---- informer handlers -------------------------------------------------
    def _pod_added(self, obj: api_pb2.Object) -> None:
        pod = obj.pod
        if pod.spec.node_name:
            self.cache.set_pod(pod)
            return
        if is_ready_for_scheduling(pod):
            self.queue.add(_key(pod), pod.spec.priority)

    def _pod_updated(self, old: api_pb2.Object, new: api_pb2.Object) -> None:
        pod = new.pod
        key = _key(pod)
        if pod.spec.node_name:
            was_terminal = old.pod.status.phase in ("Succeeded", "Failed")
            self.cache.set_pod(pod)
            self.queue.delete(key)
            if not was_terminal and pod.status.phase in ("Succeeded", "Failed"):
                self.queue.move_all_to_active_or_backoff()
            return
        if not is_ready_for_scheduling(pod):
            self.queue.delete(key)
            return
        if self.cache.is_assumed(pod.metadata.uid):
            return
        if old is new or old.pod.spec != pod.spec or old.pod.metadata.labels != pod.metadata.labels:
            self.queue.add(key, pod.spec.priority)

    def _pod_deleted(self, obj: api_pb2.Object) -> None:
        pod = obj.pod
        self.queue.delete(_key(pod))
        if self.cache.node_of(pod.metadata.uid) is not None:
            self.cache.remove_pod(pod.metadata.uid)
            self.queue.move_all_to_active_or_backoff()

    def _node_added(self, obj: api_pb2.Object) -> None:
        self.cache.set_node(obj.node)
        self.queue.move_all_to_active_or_backoff()

    def _node_updated(self, old: api_pb2.Object, new: api_pb2.Object) -> None:
        self.cache.set_node(new.node)
        if _node_relevant(old.node) != _node_relevant(new.node):
            self.queue.move_all_to_active_or_backoff()

    def _node_deleted(self, obj: api_pb2.Object) -> None:
        self.cache.remove_node(obj.node.metadata.name)

    # ---- the loop ----------------------------------------------------------
    async def run(self) -> None:
        await asyncio.gather(self.pods.wait_synced(), self.nodes.wait_synced())
        cleanup = asyncio.create_task(self._cleanup_loop())
        try:
            n = 0
            while True:
                key = await self.queue.pop()
                if key is None:
                    return
                await self._bind_sem.acquire()
                released = False
                t0 = time.monotonic()
                try:
                    released = self.schedule_one(key)
                finally:
                    if self.on_cycle is not None:
                        self.on_cycle(time.monotonic() - t0)
                    if not released:
                        self._bind_sem.release()
                n += 1
                if n % 2 == 0:
                    await asyncio.sleep(0)  # let binds, informers and the lease renewal run
        finally:
            self.queue.close()
            await cancel_and_wait([cleanup, *self._tasks], 5.0, "scheduler task")
            await self.binder.close()

    async def _cleanup_loop(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            self.cache.cleanup_expired()

    def schedule_one(self, key: str) -> bool:
        """Schedule one pod. True if a bind task took over the bind semaphore."""
        obj = self.pods.get(key)
        if obj is None:
            self.queue.delete(key)
            return False
        pod = obj.pod
        if not is_ready_for_scheduling(pod):
            self.queue.delete(key)
            return False
        if self.cache.is_assumed(pod.metadata.uid):
            return False
        try:
            pi = pod_info(pod)
        except Exception as e:  # a bad quantity must not stop the loop
            log.warning("pod %s: %s", key, e)
            self.queue.add_unschedulable(key)
            return False
        node, score, detail, reasons, _ = self.find_node(pi)
        if node is None:
            self.unschedulable_attempts += 1
            self.queue.add_unschedulable(key)
            msg = fit_error_message(len(self.cache.nodes), reasons)
            if key not in self._report_pending:
                self._spawn(self._report_worker(key))
            self._report_pending[key] = (obj, msg)
            return False
        self.cache.assume(pi, node)
        self._spawn(self._bind(obj, pi, node, score, detail), holds_sem=True)
        return True

    def find_node(self, pi: PodInfo) -> Placement:
        """Filter and score over the cache (placement.py), each search starting where
        the last one stopped (kube-scheduler's nextStartNodeIndex)."""
        nodes = list(self.cache.nodes.values())
        found = find_node(self.filters, self.scores, nodes, pi, self._next_start)
        if nodes:
            self._next_start = (self._next_start + found.searched) % len(nodes)
        return found

    # ---- async parts -------------------------------------------------------
    def _spawn(self, coro: Coroutine[object, object, None], holds_sem: bool = False) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)

        def _done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if holds_sem:
                self._bind_sem.release()

        task.add_done_callback(_done)

    async def _bind(self, obj: api_pb2.Object, pi: PodInfo, node: str, score: int,
                    detail: str) -> None:
        pod = obj.pod
        ns, name = pod.metadata.namespace, pod.metadata.name
        key = pi.key
        for pb in self.prebinds:
            try:
                st = await pb.prebind(pi, node) if pb.relevant(pi) else None
            except Exception as e:   # a plugin that raises must not lose the pod
                st = Status.error(str(e), plugin=pb.name)
            if st is not None and not st.ok:
                self.cache.forget(pi.uid)
                self.queue.add_backoff(key)
                self.recorder.record(obj, events.WARNING, "FailedScheduling",
                                     f"running PreBind plugin {pb.name!r}: {st.message}")
                return
        try:
            await self.binder.bind(obj, node)
        except errors.Conflict:
            self.cache.forget(pi.uid)
            try:
                cur = await self.client.get("pods", ns, name)
            except errors.NotFound:
                self.queue.delete(key)
                return
            if cur.pod.spec.node_name:  # bound meanwhile (by us or another replica)
                self.cache.set_pod(cur.pod)
                self.queue.delete(key)
            else:
                self.queue.add_backoff(key)
            return
        except errors.NotFound:
            self.cache.forget(pi.uid)
            self.queue.delete(key)
            return
        except asyncio.CancelledError:
            self.cache.forget(pi.uid)
            raise
        except Exception as e:
            log.warning("binding %s to %s failed: %s", key, node, e)
            self.cache.forget(pi.uid)
            self.queue.add_backoff(key)
            self.recorder.record(obj, events.WARNING, "FailedScheduling",
                                 f"Binding rejected: {e}")
            return
        self.cache.finish_binding(pi.uid)
        self.queue.done(key)
        self.bound += 1
        self.recorder.record(obj, events.NORMAL, "Scheduled",
                             f"Successfully assigned {key} to {node} (score {score}: {detail})")

    async def _report_worker(self, key: str) -> None:
        try:
            async with self._report_sem:
                while key in self._report_pending:
                    obj, msg = self._report_pending[key]
                    await self._report_unschedulable(obj, msg)
                    if self._report_pending.get(key, (None, None))[1] == msg:
                        break
        finally:
            self._report_pending.pop(key, None)

    async def _report_unschedulable(self, obj: api_pb2.Object, message: str) -> None:
        if self.cache.node_of(obj.pod.metadata.uid) is not None:
            return  # placed meanwhile
        self.recorder.record(obj, events.WARNING, "FailedScheduling", message)
        pod = obj.pod
        for c in pod.status.conditions:
            if (c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
                    and c.message == message):
                return  # already says so
        new = copy_of(obj)
        for _ in range(3):
            conds = new.pod.status.conditions
            for i in range(len(conds) - 1, -1, -1):
                if conds[i].type == "PodScheduled":
                    del conds[i]
            c = conds.add(type="PodScheduled", status="False", reason="Unschedulable",
                          message=message)
            c.last_transition_time.CopyFrom(now_ts())
            if not new.pod.status.phase:
                new.pod.status.phase = "Pending"
            try:
                await self.client.update_status(new)
                return
            except errors.Conflict:
                try:
                    new = await self.client.get("pods", pod.metadata.namespace,
                                                  pod.metadata.name)
                except errors.NotFound:
                    return
                if new.pod.spec.node_name:
                    return
            except errors.NotFound:
                return
            except Exception as e:
                log.warning("pod %s: cannot record unschedulable: %s", _key(pod), e)
                return


def _key(pod: core_pb2.Pod) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"
