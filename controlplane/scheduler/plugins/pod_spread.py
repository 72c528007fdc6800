"""PodSpread: spread the pods of one owner (controller ownerReference) across
nodes: the raw score is how many of the owner's pods the node already has;
normalised in reverse, so the emptiest node scores 100 (like Kubernetes'
SelectorSpread)."""

from __future__ import annotations

from ..framework import SUCCESS, CycleState, NodeInfo, PluginArgs, PodInfo, Status, normalize_scores

NAME = "PodSpread"


class PodSpread:
    name = NAME
    description = "spread"

    def relevant(self, pod: PodInfo) -> bool:
        # a pod without an owner has nothing to spread from: every node would score the
        # same (kube-scheduler's spreading plugins skip such a pod in PreScore)
        return bool(pod.owner_uid)

    def score(self, state: CycleState, pod: PodInfo, node_info: NodeInfo
              ) -> tuple[int, Status]:
        if not pod.owner_uid:
            return 0, SUCCESS
        return node_info.owner_counts.get(pod.owner_uid, 0), SUCCESS

    def normalize(self, scores: list[int]) -> list[int]:
        return normalize_scores(scores, reverse=True)


def factory(args: PluginArgs = None) -> PodSpread:
    return PodSpread()
