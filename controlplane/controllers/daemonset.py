"""DaemonSet controller (apps/v1): one pod on every eligible node.

* Eligible (daemonsetutil.placement): nodeSelector and required node affinity match,
  and no NoSchedule/NoExecute taint the pod does not tolerate; nodes that join later
  get their pod, nodes that leave (or stop matching) lose it. The pod is pinned by a
  node affinity on the node's name and placed by the scheduler, which checks it fits.
* A failed daemon pod is deleted (event FailedDaemonPod) and replaced after the
  profile's restart back-off, once it is gone (a node never runs two daemons because
  one is still terminating); extra pods on a node are deleted, the oldest stays.
* Updates: each template is a ControllerRevision (history.py), its hash the pods' label
  `controller-revision-hash`. RollingUpdate replaces old pods node by node within
  `maxUnavailable`, or with `maxSurge` starts the new pod beside the old one first;
  OnDelete replaces a pod only when someone deletes it. `rollout undo` writes an old
  revision's template back; `revisionHistoryLimit` old revisions no pod uses are kept.
* Status (desired/current/ready/updated/available/unavailable/misscheduled) last.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from controlplane import errors, events
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.objects import copy_of, meta_of, ts_seconds
from controlplane.profiles import DEFAULT, Profile
from proto import api_pb2, apps_pb2, core_pb2
from proto.labels import from_label_selector

from . import podutil
from .base import DONE, Controller, Result
from .daemonsetutil import by_node, daemon_pod, fenceposts, is_updated, placement, plan_rolling
from .history import REVISION_HASH, CollisionError, History
from .ownership import claim, selecting
from .podcontrol import PodControl

log = logging.getLogger(__name__)


def _owner_key(m: api_pb2.Object, kind: str = "DaemonSet") -> str | None:
    meta = meta_of(m)
    ref = podutil.controller_ref(meta)
    return f"{meta.namespace}/{ref.name}" if ref is not None and ref.kind == kind else None


def _node_facts(o: api_pb2.Object) -> tuple[object, ...]:
    n = o.node
    return (dict(n.metadata.labels), tuple((t.key, t.value, t.effect) for t in n.spec.taints))


class DaemonSetController(Controller):
    name = "daemonset"
    workers = 2

    def __init__(self, client: Client, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None, profile: Profile = DEFAULT,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(backoff_initial=profile.workqueue_backoff_initial,
                         backoff_max=profile.workqueue_backoff_max)
        self.client = client
        self.profile = profile
        self.clock = clock
        self.recorder = recorder or events.EventRecorder(client, "daemonset-controller")
        self.history = History(client, self.recorder)
        self.expectations = podutil.Expectations()
        self.podcontrol = PodControl(client, self.recorder, self.expectations, "daemonset")
        self.failed_at: dict[tuple[str, str], tuple[int, float]] = {}   # (ds, node) -> n, t
        self.dss = factory.informer("daemonsets")
        self.pods = factory.informer("pods")
        self.nodes = factory.informer("nodes")
        self.revisions = factory.informer("controllerrevisions")
        self.pods.add_indexer("namespace", lambda o: [o.pod.metadata.namespace])
        self.pods.add_indexer("daemonset", lambda o: [k] if (k := _owner_key(o)) else [])
        self.revisions.add_indexer("owner-daemonset",
                                   lambda o: [k] if (k := _owner_key(o)) else [])
        self.dss.add_handler(Handler(self._ds, lambda o, n: self._ds(n), self._ds))
        self.pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_deleted))
        self.nodes.add_handler(Handler(self._all, self._node_updated, self._all))
        self.revisions.add_handler(Handler(self._owned, lambda o, n: self._owned(n),
                                           self._owned))

    async def wait_synced(self) -> None:
        await asyncio.gather(self.dss.wait_synced(), self.pods.wait_synced(),
                             self.nodes.wait_synced(), self.revisions.wait_synced())

    # ---- handlers ----------------------------------------------------------
    def _ds(self, o: api_pb2.Object) -> None:
        self.enqueue(f"{o.daemon_set.metadata.namespace}/{o.daemon_set.metadata.name}")

    def _all(self, o: api_pb2.Object | None = None) -> None:
        for ds in self.dss.list():
            self._ds(ds)

    def _node_updated(self, old: api_pb2.Object, new: api_pb2.Object) -> None:
        if old is new or _node_facts(old) != _node_facts(new):
            self._all()

    def _owned(self, o: api_pb2.Object) -> None:
        key = _owner_key(o)
        if key is not None:
            self.enqueue(key)

    def _pod_added(self, o: api_pb2.Object) -> None:
        key = _owner_key(o)
        if key is not None:
            self.expectations.creation_observed(key)
            self.enqueue(key)
        elif podutil.controller_ref(o.pod.metadata) is None:
            for k in selecting(self.dss.list(), o, lambda d: d.daemon_set.spec.selector):
                self.enqueue(k)

    def _pod_updated(self, old: api_pb2.Object, new: api_pb2.Object) -> None:
        key = _owner_key(new)
        m = new.pod.metadata
        if key is not None and m.HasField("deletion_timestamp") and \
                not old.pod.metadata.HasField("deletion_timestamp"):
            self.expectations.deletion_observed(key, f"{m.namespace}/{m.name}")
        self._owned(old)
        self._owned(new)

    def _pod_deleted(self, o: api_pb2.Object) -> None:
        key = _owner_key(o)
        if key is not None:
            m = o.pod.metadata
            self.expectations.deletion_observed(key, f"{m.namespace}/{m.name}")
            self.enqueue(key)

    # ---- reconcile ---------------------------------------------------------
    async def reconcile(self, key: str) -> Result:
        obj = self.dss.get(key)
        if obj is None:
            self.expectations.delete(key)
            for k in [k for k in self.failed_at if k[0] == key]:
                del self.failed_at[k]
            return DONE
        ds = obj.daemon_set
        if ds.metadata.HasField("deletion_timestamp"):
            return DONE
        satisfied = self.expectations.satisfied(key)   # before the cache read (job.py)
        owned = await claim(self.client, "pods", obj, from_label_selector(ds.spec.selector),
                            self.pods.by_index("namespace", ds.metadata.namespace))
        try:
            current, revisions = await self.history.sync(
                obj, self.revisions.by_index("owner-daemonset", key), ds.spec.template,
                ds.status.collision_count)
        except CollisionError:
            upd = copy_of(obj)
            upd.daemon_set.status.collision_count = ds.status.collision_count + 1
            await self.client.update_status(upd)
            raise
        hash_ = current.controller_revision.metadata.labels[REVISION_HASH]
        pods = [p.pod for p in owned]
        nodes = {n.node.metadata.name: n.node for n in self.nodes.list()}
        node_pods = by_node(pods)
        now = self.clock()
        res = DONE
        if satisfied:
            wait = await self._manage(obj, key, nodes, node_pods, hash_, now)
            if ds.spec.update_strategy.type != "OnDelete" and not wait:
                await self._roll(obj, key, nodes, node_pods, hash_, now)
            if wait:
                res = Result(requeue_after=wait)
        limit = ds.spec.revision_history_limit if ds.spec.HasField(
            "revision_history_limit") else 10
        await self.history.cleanup(revisions, current, {p.metadata.labels.get(
            REVISION_HASH, "") for p in pods}, limit)
        return await self._status(obj, nodes, node_pods, hash_, now, res)

    async def _manage(self, obj: api_pb2.Object, key: str, nodes: dict[str, core_pb2.Node],
                      node_pods: dict[str, list[core_pb2.Pod]], hash_: str,
                      now: float) -> float:
        """Create and delete pods so each eligible node has one; seconds to wait."""
        ds = obj.daemon_set
        create: list[str] = []
        delete: list[core_pb2.Pod] = []
        wait = 0.0
        surge, _ = fenceposts(ds.spec.update_strategy.rolling_update.max_surge,
                              ds.spec.update_strategy.rolling_update.max_unavailable,
                              len(nodes))
        for name, node in nodes.items():
            run, keep = placement(ds.spec.template, node)
            pods = node_pods.get(name, [])
            active = [p for p in pods if podutil.is_active(p)]
            failed = [p for p in pods if p.status.phase == "Failed"
                      and not p.metadata.HasField("deletion_timestamp")]
            for p in failed:
                self.recorder.record(obj, events.WARNING, "FailedDaemonPod",
                                     f"Found failed daemon pod {p.metadata.namespace}/"
                                     f"{p.metadata.name} on node {name}, will try to kill it")
                n, _ = self.failed_at.get((key, name), (0, 0.0))
                self.failed_at[(key, name)] = (n + 1, now)
            delete.extend(failed)
            if run and not pods:    # a pod still terminating there is waited for (no two)
                n, at = self.failed_at.get((key, name), (0, 0.0))
                until = at + min(self.profile.restart_backoff_initial * 2 ** max(n - 1, 0),
                                 self.profile.restart_backoff_max) if n else 0.0
                if now < until:
                    wait = max(wait, until - now)
                else:
                    create.append(name)
            elif not keep:
                delete.extend(active)
            elif len(active) > 1:
                olds = [p for p in active if not is_updated(p, hash_)]
                if not (surge > 0 and len(active) == 2 and len(olds) == 1):
                    oldest = sorted(active, key=lambda p: ts_seconds(
                        p.metadata.creation_timestamp))
                    delete.extend(oldest[1:])
            elif active and podutil.is_ready(active[0]):
                self.failed_at.pop((key, name), None)
        for name, pods in node_pods.items():
            if name not in nodes:   # its node is gone (bound ones: the node controller)
                delete.extend(p for p in pods if not p.spec.node_name and podutil.is_active(p))
        await self.podcontrol.create(obj, key, (daemon_pod(obj, n, hash_) for n in create))
        await self.podcontrol.delete(obj, key, delete)
        return wait

    async def _roll(self, obj: api_pb2.Object, key: str, nodes: dict[str, core_pb2.Node],
                    node_pods: dict[str, list[core_pb2.Pod]], hash_: str, now: float) -> None:
        ds = obj.daemon_set
        desired = sum(1 for n in nodes.values() if placement(ds.spec.template, n)[0])
        ru = ds.spec.update_strategy.rolling_update
        surge, unavailable = fenceposts(ru.max_surge, ru.max_unavailable, desired)
        wanted = {n: ps for n, ps in node_pods.items()
                  if n in nodes and placement(ds.spec.template, nodes[n])[1]}
        plan = plan_rolling(wanted, hash_, surge, unavailable, ds.spec.min_ready_seconds, now)
        await self.podcontrol.create(obj, key, (daemon_pod(obj, n, hash_) for n in plan.surge_on))
        await self.podcontrol.delete(obj, key, plan.delete)

    async def _status(self, obj: api_pb2.Object, nodes: dict[str, core_pb2.Node],
                      node_pods: dict[str, list[core_pb2.Pod]], hash_: str, now: float,
                      res: Result) -> Result:
        ds = obj.daemon_set
        st = apps_pb2.DaemonSetStatus()
        st.CopyFrom(ds.status)
        for f in ("desired_number_scheduled", "current_number_scheduled",
                  "number_misscheduled", "number_ready", "updated_number_scheduled",
                  "number_available"):
            setattr(st, f, 0)
        mrs = ds.spec.min_ready_seconds
        waits: list[float] = []
        for name, node in nodes.items():
            run, _ = placement(ds.spec.template, node)
            active = [p for p in node_pods.get(name, []) if podutil.is_active(p)]
            if not run:
                st.number_misscheduled += bool(active)
                continue
            st.desired_number_scheduled += 1
            if not active:
                continue
            st.current_number_scheduled += 1
            st.number_ready += any(podutil.is_ready(p) for p in active)
            st.number_available += any(podutil.is_available(p, mrs, now) for p in active)
            st.updated_number_scheduled += any(is_updated(p, hash_) for p in active)
            waits += [w for p in active if (w := podutil.available_in(p, mrs, now))]
        st.number_unavailable = max(st.desired_number_scheduled - st.number_available, 0)
        st.observed_generation = ds.metadata.generation
        if waits:
            w = min(waits) + 0.05
            res = Result(requeue_after=min(w, res.requeue_after or w))
        if st != ds.status:
            upd = copy_of(obj)
            upd.daemon_set.status.CopyFrom(st)
            try:
                await self.client.update_status(upd)
            except errors.NotFound:
                return DONE
        return res
