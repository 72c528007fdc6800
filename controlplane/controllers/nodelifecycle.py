"""Node lifecycle controller: notice lost nodes, evict their pods, let them back.

A node's heartbeat is its Lease ``corral-node-lease/<node>``. The controller
notes, on its own monotonic clock, when it last saw the lease change (so
clocks on the nodes do not matter). When that is longer ago than the grace
period:

* the node's Ready condition becomes Unknown (reason NodeStatusUnknown) and
  it gets the taints ``node.kubernetes.io/unreachable`` NoSchedule and
  NoExecute (the scheduler then places nothing there);
* NoExecute taints evict pods as Kubernetes' taint manager does
  (controllers/noexecute.py): a pod that does not tolerate the unreachable
  taint is deleted once the taint is older than the profile's pod eviction
  timeout (grace 0: the node is away and cannot confirm; event "Node node-2
  NotReady: evicting 3 pods"; a StatefulSet's pod is deleted gracefully instead
  and keeps its name until the node confirms or the Node is deleted, so two pods
  never share an identity); a toleration with ``tolerationSeconds`` keeps
  it that long, one without keeps it forever. Every other NoExecute taint (one
  a user put on a node) evicts the pods that do not tolerate it at once, with
  their normal grace period. Their owners create replacements elsewhere.

Before a node is declared NotReady its Lease is read again from the API, so
a control plane that fell behind on its watch does not mistake its own delay
for a lost node. And when most nodes look lost at once (more than 55%, as
Kubernetes' zone disruption for clusters of up to 50 nodes), the control plane
is the likelier one cut off (an etcd leader change, a new leader of the loops
whose agents could not write for a while): the nodes are marked, their pods are
not evicted, and the eviction clocks start again once the disruption is over.

A deleted Node's pods are deleted at once (grace 0), like Kubernetes' PodGC.

When the lease moves again the taints are removed; the agent itself reports
Ready=True. Pods evicted meanwhile are gone from the API, so the returning
agent stops them: no duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import time

from controlplane import errors, events
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.objects import copy_of, now_ts
from controlplane.profiles import DEFAULT, Profile
from proto import api_pb2, core_pb2

from . import podutil
from .base import DONE, Controller, Result
from .noexecute import UNREACHABLE, due, taint_id

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "corral-node-lease"
DISRUPTION = 0.55        # Kubernetes' --unhealthy-zone-threshold


def _stateful(pod: core_pb2.Pod) -> bool:
    ref = podutil.controller_ref(pod.metadata)
    return ref is not None and ref.kind == "StatefulSet"


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    workers = 2

    def __init__(self, client: Client, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None,
                 profile: Profile = DEFAULT) -> None:
        super().__init__(backoff_initial=profile.workqueue_backoff_initial,
                         backoff_max=min(profile.workqueue_backoff_max, 5.0))
        self.client = client
        self.profile = profile
        self.recorder = recorder or events.EventRecorder(client, "node-controller")
        self.nodes = factory.informer("nodes")
        self.leases = factory.informer("leases", LEASE_NAMESPACE)
        self.pods = factory.informer("pods")
        self.pods.add_indexer("nodeName", lambda o: [o.pod.spec.node_name]
                              if o.pod.spec.node_name else [])
        self._seen: dict[str, tuple[str, float]] = {}   # node -> (lease rv, monotonic)
        # node -> {NoExecute taint: monotonic time first seen}
        self._taint_seen: dict[str, dict[tuple[str, str, str], float]] = {}
        self.evicted = 0
        self.nodes.add_handler(Handler(self._node, lambda o, n: self._node(n), self._node))
        self.leases.add_handler(Handler(self._lease, lambda o, n: self._lease(n), None))
        self.pods.add_handler(Handler(self._pod, lambda o, n: self._pod(n), None))

    async def wait_synced(self) -> None:
        await asyncio.gather(self.nodes.wait_synced(), self.leases.wait_synced(),
                             self.pods.wait_synced())

    def _node(self, o: api_pb2.Object) -> None:
        self.enqueue(o.node.metadata.name)

    def _pod(self, o: api_pb2.Object) -> None:
        """A pod placed on a node with NoExecute taints: look at that node again."""
        node = self.nodes.get(o.pod.spec.node_name) if o.pod.spec.node_name else None
        if node is not None and any(t.effect == "NoExecute" for t in node.node.spec.taints):
            self.enqueue(node.node.metadata.name)

    def _lease(self, o: api_pb2.Object) -> None:
        name = o.lease.metadata.name
        self._observe(name, o)
        self.enqueue(name)

    def _observe(self, name: str, lease: api_pb2.Object | None) -> float:
        rv = lease.lease.metadata.resource_version if lease is not None else ""
        cur = self._seen.get(name)
        if cur is None or cur[0] != rv:
            cur = (rv, time.monotonic())
            self._seen[name] = cur
        return cur[1]

    async def _collect_orphans(self, node: str) -> None:
        """The Node object is gone: its pods can never be confirmed, delete them
        (grace 0) so their owners replace them (Kubernetes' PodGC)."""
        victims = [p.pod for p in self.pods.by_index("nodeName", node)]
        if not victims:
            return
        try:
            await self.client.get("nodes", "", node)
            return  # re-created meanwhile: not orphans
        except errors.NotFound:
            pass
        for pod in victims:
            try:
                await self.client.delete("pods", pod.metadata.namespace, pod.metadata.name,
                                           grace_period_seconds=0)
            except errors.NotFound:
                pass

    async def _mark_pods_not_ready(self, node: str) -> None:
        """Like Kubernetes' MarkPodsNotReady: the pods of an unreachable node stop
        counting as ready (and available) at once, before they are evicted."""
        for p in self.pods.by_index("nodeName", node):
            if not podutil.is_ready(p.pod):
                continue
            upd = copy_of(p)
            for c in upd.pod.status.conditions:
                if c.type == "Ready":
                    c.status = "False"
                    c.reason = "NodeNotReady"
                    c.message = f"Node {node} is not ready"
                    c.last_transition_time.CopyFrom(now_ts())
            try:
                await self.client.update_status(upd)
            except (errors.NotFound, errors.Conflict):
                continue  # gone, or changed: the next pass looks again

    async def _lease_moved(self, node: str, seen: api_pb2.Object | None) -> bool:
        """Read the node's Lease from the API: True (and noted) if it moved since `seen`."""
        try:
            fresh = await self.client.get("leases", LEASE_NAMESPACE, node)
        except errors.NotFound:
            return False
        if seen is not None and (fresh.lease.metadata.resource_version
                                 == seen.lease.metadata.resource_version):
            return False
        self._seen[node] = (fresh.lease.metadata.resource_version, time.monotonic())
        return True

    async def reconcile(self, key: str) -> Result:
        obj = self.nodes.get(key)
        if obj is None:
            self._seen.pop(key, None)
            self._taint_seen.pop(key, None)
            await self._collect_orphans(key)
            return DONE
        node = obj.node
        lease = self.leases.get(f"{LEASE_NAMESPACE}/{key}")
        last = self._observe(key, lease)
        now = time.monotonic()
        age = now - last
        grace = self.profile.node_grace_period
        period = self.profile.node_monitor_period
        reachable = age <= grace
        if reachable:
            requeue = max(grace - age, 0.0) + min(period, 0.2)
            if any(t.key == UNREACHABLE for t in node.spec.taints):
                upd = copy_of(obj)
                kept = [t for t in upd.node.spec.taints if t.key != UNREACHABLE]
                del upd.node.spec.taints[:]
                upd.node.spec.taints.extend(kept)
                obj = await self.client.update(upd)
                self.recorder.record(obj, events.NORMAL, "NodeReady",
                                     f"Node {key} status is now: NodeReady")
        else:
            ready = next((c for c in node.status.conditions if c.type == "Ready"), None)
            if ready is None or ready.status != "Unknown":
                if await self._lease_moved(key, lease):
                    return Result(requeue_after=min(period, 0.2))
                obj = await self._mark_unknown(obj, ready)
            obj = await self._taint_unreachable(obj)
            requeue = period
        if not reachable and self._disrupted(now):
            if self._taint_seen.pop(key, None) is not None:
                log.warning("most nodes are unreachable at once: the control plane may be "
                            "the one cut off; not evicting the pods of %s", key)
            return Result(requeue_after=period)
        evict_at = await self._evict_for_taints(obj, unreachable=not reachable)
        if evict_at is not None:
            requeue = min(requeue, max(evict_at - time.monotonic(), 0.0) + 0.01)
        return Result(requeue_after=requeue)

    def _disrupted(self, now: float) -> bool:
        """More than DISRUPTION of the nodes unreachable at once."""
        names = [o.node.metadata.name for o in self.nodes.list()]
        grace = self.profile.node_grace_period
        down = sum(1 for n in names if n in self._seen and now - self._seen[n][1] > grace)
        return bool(names) and down / len(names) > DISRUPTION

    async def _mark_unknown(self, obj: api_pb2.Object,
                            ready: core_pb2.NodeCondition | None) -> api_pb2.Object:
        key = obj.node.metadata.name
        upd = copy_of(obj)
        conds = upd.node.status.conditions
        for i in range(len(conds) - 1, -1, -1):
            if conds[i].type == "Ready":
                del conds[i]
        c = conds.add(type="Ready", status="Unknown", reason="NodeStatusUnknown",
                      message="Kubelet stopped posting node status.")
        c.last_transition_time.CopyFrom(now_ts())
        if ready is not None:
            c.last_heartbeat_time.CopyFrom(ready.last_heartbeat_time)
        obj = await self.client.update_status(upd)
        self.recorder.record(obj, events.NORMAL, "NodeNotReady",
                             f"Node {key} status is now: NodeNotReady")
        await self._mark_pods_not_ready(key)
        return obj

    async def _taint_unreachable(self, obj: api_pb2.Object) -> api_pb2.Object:
        have = {(t.key, t.effect) for t in obj.node.spec.taints}
        if (UNREACHABLE, "NoSchedule") in have and (UNREACHABLE, "NoExecute") in have:
            return obj
        upd = copy_of(obj)
        for effect in ("NoSchedule", "NoExecute"):
            if (UNREACHABLE, effect) not in have:
                t = upd.node.spec.taints.add(key=UNREACHABLE, effect=effect)
                t.time_added.CopyFrom(now_ts())
        return await self.client.update(upd)

    async def _evict_for_taints(self, obj: api_pb2.Object, *, unreachable: bool) -> float | None:
        """Delete the pods whose NoExecute tolerations ran out; when the next one does."""
        key = obj.node.metadata.name
        now = time.monotonic()
        taints = [t for t in obj.node.spec.taints if t.effect == "NoExecute"]
        before = self._taint_seen.get(key, {})
        seen = {taint_id(t): before.get(taint_id(t), now) for t in taints}
        if not seen:
            self._taint_seen.pop(key, None)
            return None
        self._taint_seen[key] = seen
        pods = [p.pod for p in self.pods.by_index("nodeName", key)
                 if unreachable or not p.pod.metadata.HasField("deletion_timestamp")]
        victims, next_at = due(pods, taints, seen, self.profile.pod_eviction_timeout, now)
        victims = [p for p in victims if not (_stateful(p)
                                              and p.metadata.HasField("deletion_timestamp"))]
        if victims and unreachable:
            self.recorder.record(obj, events.WARNING, "NodeNotReady",
                                 f"Node {key} NotReady: evicting {len(victims)} pods")
        for pod in victims:
            # a StatefulSet pod is deleted gracefully even from a lost node: its name stays
            # taken until the node confirms or the Node is deleted, so no second pod with
            # its identity can start meanwhile (Kubernetes' at-most-one guarantee)
            stateful = _stateful(pod)
            if not unreachable or stateful:
                why = (f": a StatefulSet pod keeps its name until node {key} confirms or the "
                       "Node is deleted" if unreachable else "")
                self.recorder.record(api_pb2.Object(pod=pod), events.NORMAL,
                                     "TaintManagerEviction",
                                     f"Marking for deletion Pod {pod.metadata.namespace}/"
                                     f"{pod.metadata.name}{why}")
            try:
                await self.client.delete("pods", pod.metadata.namespace, pod.metadata.name,
                                           grace_period_seconds=0 if unreachable and not stateful
                                           else None)
                self.evicted += 1
            except errors.NotFound:
                pass
        return next_at
