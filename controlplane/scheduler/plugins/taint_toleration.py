"""TaintToleration: every NoSchedule and NoExecute taint of the node must be
tolerated by the pod (PreferNoSchedule is only a preference and ignored)."""

from __future__ import annotations

from collections.abc import Iterable

from controlplane.tolerations import tolerated
from proto import core_pb2

from ..framework import SUCCESS, CycleState, NodeInfo, PluginArgs, PodInfo, Status

NAME = "TaintToleration"
FILTERED_EFFECTS = ("NoSchedule", "NoExecute")


def untolerated(taints: Iterable[core_pb2.Taint],
                tolerations: Iterable[core_pb2.Toleration]) -> core_pb2.Taint | None:
    """The first NoSchedule/NoExecute taint no toleration tolerates (None: all are)."""
    tols = list(tolerations)
    for taint in taints:
        if taint.effect in FILTERED_EFFECTS and not tolerated(tols, taint):
            return taint
    return None


class TaintToleration:
    name = NAME
    passes_clean_nodes = True  # only a not-ready, cordoned or tainted node can fail

    def relevant(self, pod: PodInfo) -> bool:
        return True

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status:
        taints = node_info.node.spec.taints
        if not taints:
            return SUCCESS
        bad = untolerated(taints, pod.pod.spec.tolerations)
        if bad is None:
            return SUCCESS
        return Status.unresolvable(
            f"node(s) had untolerated taint {{{bad.key}: {bad.value}}}", plugin=NAME)


def factory(args: PluginArgs = None) -> TaintToleration:
    return TaintToleration()
