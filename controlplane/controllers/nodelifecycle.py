"""Node lifecycle controller: notice lost nodes, evict their pods, let them back.

A node's heartbeat is its Lease ``corral-node-lease/<node>``. The controller
notes, on its own monotonic clock, when it last saw the lease change (so
clocks on the nodes do not matter). When that is longer ago than the grace
period:

* the node's Ready condition becomes Unknown (reason NodeStatusUnknown) and
  it gets the taints ``node.kubernetes.io/unreachable`` NoSchedule and
  NoExecute (the scheduler then places nothing there);
* once the NoExecute taint is older than the eviction timeout, every pod bound
  to the node is deleted from the API at once (grace 0: the node is away and
  cannot confirm); their owners create replacements on healthy nodes; event
  "Node node-2 NotReady: evicting 3 pods". Pods that tolerate the unreachable
  NoExecute taint without tolerationSeconds stay.

A deleted Node's pods are deleted at once (grace 0), like Kubernetes' PodGC.

When the lease moves again the taints are removed; the agent itself reports
Ready=True. Pods evicted meanwhile are gone from the API, so the returning
agent stops them: no duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from controlplane import errors, events
from controlplane.informer import Handler, InformerFactory, copy_of
from controlplane.profiles import DEFAULT, Profile
from proto import api_pb2, core_pb2

from . import podutil
from .base import DONE, Controller, Result

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "corral-node-lease"
UNREACHABLE = "node.kubernetes.io/unreachable"


def _tolerates_forever(pod: core_pb2.Pod) -> bool:
    for t in pod.spec.tolerations:
        if t.effect not in ("", "NoExecute"):
            continue
        matches = (t.operator == "Exists" and not t.key) or (
            t.key == UNREACHABLE and t.operator in ("Exists", "Equal", ""))
        if matches and not t.HasField("toleration_seconds"):
            return True
    return False


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    workers = 2

    def __init__(self, registry: Any, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None,
                 profile: Profile = DEFAULT) -> None:
        super().__init__(backoff_initial=profile.workqueue_backoff_initial,
                         backoff_max=min(profile.workqueue_backoff_max, 5.0))
        self.registry = registry
        self.profile = profile
        self.recorder = recorder or events.EventRecorder(registry, "node-controller")
        self.nodes = factory.informer("nodes")
        self.leases = factory.informer("leases", LEASE_NAMESPACE)
        self.pods = factory.informer("pods")
        self.pods.add_indexer("nodeName", lambda o: [o.pod.spec.node_name]
                              if o.pod.spec.node_name else [])
        self._seen: dict[str, tuple[str, float]] = {}   # node -> (lease rv, monotonic)
        self._unreachable_since: dict[str, float] = {}  # node -> monotonic
        self.evicted = 0
        self.nodes.add_handler(Handler(self._node, lambda o, n: self._node(n), self._node))
        self.leases.add_handler(Handler(self._lease, lambda o, n: self._lease(n), None))

    async def wait_synced(self) -> None:
        await asyncio.gather(self.nodes.wait_synced(), self.leases.wait_synced(),
                             self.pods.wait_synced())

    def _node(self, o: api_pb2.Object) -> None:
        self.enqueue(o.node.metadata.name)

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
            await self.registry.get("nodes", "", node)
            return  # re-created meanwhile: not orphans
        except errors.NotFound:
            pass
        for pod in victims:
            try:
                await self.registry.delete("pods", pod.metadata.namespace, pod.metadata.name,
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
                    c.last_transition_time.CopyFrom(podutil.now_ts())
            try:
                await self.registry.update_status(upd)
            except (errors.NotFound, errors.Conflict):
                continue  # gone, or changed: the next pass looks again

    async def reconcile(self, key: str) -> Result:
        obj = self.nodes.get(key)
        if obj is None:
            self._seen.pop(key, None)
            self._unreachable_since.pop(key, None)
            await self._collect_orphans(key)
            return DONE
        node = obj.node
        lease = self.leases.get(f"{LEASE_NAMESPACE}/{key}")
        last = self._observe(key, lease)
        now = time.monotonic()
        age = now - last
        grace = self.profile.node_grace_period
        period = self.profile.node_monitor_period
        if age <= grace:
            self._unreachable_since.pop(key, None)
            if any(t.key == UNREACHABLE for t in node.spec.taints):
                upd = copy_of(obj)
                kept = [t for t in upd.node.spec.taints if t.key != UNREACHABLE]
                del upd.node.spec.taints[:]
                upd.node.spec.taints.extend(kept)
                await self.registry.update(upd)
                self.recorder.record(obj, events.NORMAL, "NodeReady",
                                     f"Node {key} status is now: NodeReady")
            return Result(requeue_after=max(grace - age, 0.0) + min(period, 0.2))
        # lapsed
        ready = next((c for c in node.status.conditions if c.type == "Ready"), None)
        if ready is None or ready.status != "Unknown":
            upd = copy_of(obj)
            conds = upd.node.status.conditions
            for i in range(len(conds) - 1, -1, -1):
                if conds[i].type == "Ready":
                    del conds[i]
            c = conds.add(type="Ready", status="Unknown", reason="NodeStatusUnknown",
                          message="Kubelet stopped posting node status.")
            c.last_transition_time.CopyFrom(podutil.now_ts())
            if ready is not None:
                c.last_heartbeat_time.CopyFrom(ready.last_heartbeat_time)
            obj = await self.registry.update_status(upd)
            self.recorder.record(obj, events.NORMAL, "NodeNotReady",
                                 f"Node {key} status is now: NodeNotReady")
            await self._mark_pods_not_ready(key)
        have = {(t.key, t.effect) for t in obj.node.spec.taints}
        if (UNREACHABLE, "NoSchedule") not in have or (UNREACHABLE, "NoExecute") not in have:
            upd = copy_of(obj)
            for effect in ("NoSchedule", "NoExecute"):
                if (UNREACHABLE, effect) not in have:
                    t = upd.node.spec.taints.add(key=UNREACHABLE, effect=effect)
                    t.time_added.CopyFrom(podutil.now_ts())
            obj = await self.registry.update(upd)
        since = self._unreachable_since.setdefault(key, now)
        left = since + self.profile.pod_eviction_timeout - now
        if left > 0:
            return Result(requeue_after=min(left + 0.01, period))
        victims = [p.pod for p in self.pods.by_index("nodeName", key)
                   if not _tolerates_forever(p.pod)]
        if victims:
            self.recorder.record(obj, events.WARNING, "NodeNotReady",
                                 f"Node {key} NotReady: evicting {len(victims)} pods")
            for pod in victims:
                try:
                    await self.registry.delete("pods", pod.metadata.namespace, pod.metadata.name,
                                               grace_period_seconds=0)
                    self.evicted += 1
                except errors.NotFound:
                    pass
        return Result(requeue_after=period)
