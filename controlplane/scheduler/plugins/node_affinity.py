"""NodeAffinity: the pod's spec.affinity.nodeAffinity. Required terms filter (one term
must match the node's labels and fields: a DaemonSet pod names its node with
matchFields metadata.name); preferred terms score (the sum of the weights of the
matching terms, normalised so the best node gets 100)."""

from __future__ import annotations

from proto.labels import matches_node_selector, matches_term

from ..framework import (
    SUCCESS,
    CycleState,
    NodeInfo,
    PluginArgs,
    PodInfo,
    Status,
    normalize_scores,
)

NAME = "NodeAffinity"
REASON = "node(s) didn't match Pod's node affinity/selector"


class NodeAffinity:
    name = NAME
    description = "node affinity"
    passes_clean_nodes = False

    def relevant(self, pod: PodInfo) -> bool:
        """As a filter: the pod has required terms; as a scorer: preferred ones."""
        na = pod.pod.spec.affinity.node_affinity
        return (na.HasField("required_during_scheduling_ignored_during_execution")
                or bool(na.preferred_during_scheduling_ignored_during_execution))

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status:
        na = pod.pod.spec.affinity.node_affinity
        if not na.HasField("required_during_scheduling_ignored_during_execution"):
            return SUCCESS
        if matches_node_selector(na.required_during_scheduling_ignored_during_execution,
                                 node_info.node):
            return SUCCESS
        return Status.unresolvable(REASON, plugin=NAME)

    def score(self, state: CycleState, pod: PodInfo, node_info: NodeInfo
              ) -> tuple[int, Status]:
        terms = pod.pod.spec.affinity.node_affinity.\
            preferred_during_scheduling_ignored_during_execution
        return sum(t.weight for t in terms if matches_term(t.preference, node_info.node)), \
            SUCCESS

    def normalize(self, scores: list[int]) -> list[int]:
        return normalize_scores(scores)


def factory(args: PluginArgs = None) -> NodeAffinity:
    return NodeAffinity()
