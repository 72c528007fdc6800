"""What the DaemonSet controller (controllers/daemonset.py) computes without writing:
which nodes should run a daemon pod, the pod for a node, which node a pod is for, and
the rolling update's plan (Kubernetes' daemon controller, pure functions).

A node should run the pod when the template's nodeSelector and required node affinity
match it and it has no NoSchedule/NoExecute taint the pod does not tolerate; a running
pod may stay unless a NoExecute taint is not tolerated. Daemon pods tolerate the node
condition taints (not-ready, unreachable, pressure, unschedulable) as in Kubernetes, so
a cordoned or unreachable node keeps its daemon.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from controlplane.objects import owner_ref_to
from controlplane.tolerations import tolerated
from proto import api_pb2, core_pb2, meta_pb2
from proto.labels import matches_node_selector

from . import podutil, rollout
from .history import REVISION_HASH

TEMPLATE_GENERATION = "pod-template-generation"
DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def with_daemon_tolerations(spec: core_pb2.PodSpec) -> None:
    wanted = list(DAEMON_TOLERATIONS) + ([NETWORK_UNAVAILABLE] if spec.host_network else [])
    for key, effect in wanted:
        if not any(t.key == key and t.operator == "Exists" and t.effect == effect
                   for t in spec.tolerations):
            spec.tolerations.add(key=key, operator="Exists", effect=effect)


def placement(template: core_pb2.PodTemplateSpec, node: core_pb2.Node) -> tuple[bool, bool]:
    """(should run a new pod there, may keep a running one)."""
    spec = core_pb2.PodSpec()
    spec.CopyFrom(template.spec)
    with_daemon_tolerations(spec)
    labels = node.metadata.labels
    if any(labels.get(k) != v for k, v in spec.node_selector.items()):
        return False, False
    na = spec.affinity.node_affinity
    if na.HasField("required_during_scheduling_ignored_during_execution") and \
            not matches_node_selector(na.required_during_scheduling_ignored_during_execution,
                                      node):
        return False, False
    run = keep = True
    for taint in node.spec.taints:
        if taint.effect not in ("NoSchedule", "NoExecute") or \
                tolerated(spec.tolerations, taint):
            continue
        run = False
        if taint.effect == "NoExecute":
            keep = False
    return run, keep


def target_node(pod: core_pb2.Pod) -> str:
    """The node a daemon pod is for: its nodeName, or before binding its node affinity."""
    if pod.spec.node_name:
        return pod.spec.node_name
    req = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    for term in req.node_selector_terms:
        for r in term.match_fields:
            if r.key == "metadata.name" and r.operator == "In" and len(r.values) == 1:
                return r.values[0]
    return ""


def daemon_pod(ds_obj: api_pb2.Object, node: str, hash_: str) -> api_pb2.Object:
    """The DaemonSet's pod for `node`: pinned by a node affinity on metadata.name (the
    scheduler still checks that it fits), with the daemon tolerations."""
    ds = ds_obj.daemon_set
    t = ds.spec.template
    meta = meta_pb2.ObjectMeta(namespace=ds.metadata.namespace,
                               generate_name=f"{ds.metadata.name}-")
    meta.labels.update(t.metadata.labels)
    meta.labels[REVISION_HASH] = hash_
    meta.labels[TEMPLATE_GENERATION] = str(ds.metadata.generation)
    meta.annotations.update(t.metadata.annotations)
    meta.owner_references.append(owner_ref_to(ds_obj))
    pod = core_pb2.Pod(api_version="v1", kind="Pod", metadata=meta)
    pod.spec.CopyFrom(t.spec)
    req = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    del req.node_selector_terms[:]
    req.node_selector_terms.add().match_fields.add(key="metadata.name", operator="In",
                                                   values=[node])
    with_daemon_tolerations(pod.spec)
    return api_pb2.Object(pod=pod)


def is_updated(pod: core_pb2.Pod, hash_: str) -> bool:
    return pod.metadata.labels.get(REVISION_HASH) == hash_


# ---- rolling update ----------------------------------------------------------------

@dataclass
class RollPlan:
    delete: list[core_pb2.Pod] = field(default_factory=list)   # old pods to delete now
    surge_on: list[str] = field(default_factory=list)           # nodes to start a new pod on


def fenceposts(max_surge: meta_pb2.IntOrString, max_unavailable: meta_pb2.IntOrString,
               desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) for `desired` nodes; both 0 means maxUnavailable 1."""
    surge = rollout.scaled_value(max_surge, desired, True, "0")
    unavailable = rollout.scaled_value(max_unavailable, desired, True, "1")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def plan_rolling(by_node: dict[str, list[core_pb2.Pod]], hash_: str, surge: int,
                 unavailable: int, min_ready: int, now: float) -> RollPlan:
    """Kubernetes' rollingUpdate: without surge, delete old pods while at most
    maxUnavailable nodes lack an available daemon (unavailable old pods go first, for
    free); with surge, start a new pod beside an available old one on at most maxSurge
    nodes at once, and delete the old one once the new one is available."""
    plan = RollPlan()
    missing = 0          # nodes without an available daemon
    surging = 0
    candidates: list[core_pb2.Pod] = []
    for node in sorted(by_node):
        pods = [p for p in by_node[node] if podutil.is_active(p)]
        new = [p for p in pods if is_updated(p, hash_)]
        old = [p for p in pods if not is_updated(p, hash_)]
        new_ok = any(podutil.is_available(p, min_ready, now) for p in new)
        old_ok = [p for p in old if podutil.is_available(p, min_ready, now)]
        if not old:
            if not new_ok:
                missing += 1
            continue
        if surge == 0:
            if new:
                missing += 1         # both: wait for the manager to settle the node
            elif not old_ok:
                plan.delete.extend(old)
            else:
                candidates.extend(old)
            continue
        if new:
            if new_ok:
                plan.delete.extend(old)
            else:
                surging += 1
        elif not old_ok:
            plan.surge_on.append(node)
        else:
            candidates.append(old[0])
    if surge == 0:
        plan.delete.extend(candidates[:max(unavailable - missing, 0)])
    else:
        for p in candidates[:max(surge - surging, 0)]:
            plan.surge_on.append(target_node(p))
    return plan


def by_node(pods: Iterable[core_pb2.Pod]) -> dict[str, list[core_pb2.Pod]]:
    out: dict[str, list[core_pb2.Pod]] = {}
    for p in pods:
        n = target_node(p)
        if n:
            out.setdefault(n, []).append(p)
    return out
