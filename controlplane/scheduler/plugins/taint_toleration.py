"""TaintToleration: every NoSchedule and NoExecute taint of the node must be
tolerated by the pod (PreferNoSchedule is only a preference and ignored)."""

from __future__ import annotations

from typing import Any

from proto import core_pb2

from ..framework import SUCCESS, CycleState, NodeInfo, PodInfo, Status

NAME = "TaintToleration"
FILTERED_EFFECTS = ("NoSchedule", "NoExecute")


def tolerates(tol: core_pb2.Toleration, taint: core_pb2.Taint) -> bool:
    """Kubernetes' Toleration.ToleratesTaint."""
    if tol.effect and tol.effect != taint.effect:
        return False
    if tol.key and tol.key != taint.key:
        return False
    op = tol.operator or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return tol.value == taint.value
    return False


def untolerated(taints: Any, tolerations: Any) -> core_pb2.Taint | None:
    for taint in taints:
        if taint.effect not in FILTERED_EFFECTS:
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


class TaintToleration:
    name = NAME
    passes_clean_nodes = True  # only a not-ready, cordoned or tainted node can fail

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status:
        taints = node_info.node.spec.taints
        if not taints:
            return SUCCESS
        bad = untolerated(taints, pod.pod.spec.tolerations)
        if bad is None:
            return SUCCESS
        return Status.unresolvable(
            f"node(s) had untolerated taint {{{bad.key}: {bad.value}}}", plugin=NAME)


def factory(args: dict[str, Any] | None = None) -> TaintToleration:
    return TaintToleration()
