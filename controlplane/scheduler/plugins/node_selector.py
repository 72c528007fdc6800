"""NodeSelector: every spec.nodeSelector label must be on the node."""

from __future__ import annotations

from ..framework import SUCCESS, CycleState, NodeInfo, PluginArgs, PodInfo, Status

NAME = "NodeSelector"
REASON = "node(s) didn't match Pod's node affinity/selector"


class NodeSelector:
    name = NAME
    passes_clean_nodes = False

    def relevant(self, pod: PodInfo) -> bool:
        """Only a pod with a nodeSelector can be rejected."""
        return bool(pod.pod.spec.node_selector)

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status:
        sel = pod.pod.spec.node_selector
        if not sel:
            return SUCCESS
        labels = node_info.node.metadata.labels
        for k, v in sel.items():
            if labels.get(k) != v:
                return Status.unresolvable(REASON, plugin=NAME)
        return SUCCESS


def factory(args: PluginArgs = None) -> NodeSelector:
    return NodeSelector()
