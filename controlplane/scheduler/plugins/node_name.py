"""NodeName: a pod that names a node (spec.nodeName) fits only that node."""

from __future__ import annotations

from ..framework import SUCCESS, CycleState, NodeInfo, PluginArgs, PodInfo, Status

NAME = "NodeName"
REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = NAME
    passes_clean_nodes = False

    def relevant(self, pod: PodInfo) -> bool:
        """Only a pod that names a node can be rejected."""
        return bool(pod.pod.spec.node_name)

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status:
        want = pod.pod.spec.node_name
        if not want or want == node_info.name:
            return SUCCESS
        return Status.unresolvable(REASON, plugin=NAME)


def factory(args: PluginArgs = None) -> NodeName:
    return NodeName()
