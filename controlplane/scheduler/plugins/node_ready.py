"""NodeReady: only nodes whose Ready condition is True take pods."""

from __future__ import annotations

from ..framework import SUCCESS, CycleState, NodeInfo, PluginArgs, PodInfo, Status

NAME = "NodeReady"
REASON = "node(s) were not ready"


class NodeReady:
    name = NAME
    passes_clean_nodes = True  # only a not-ready, cordoned or tainted node can fail

    def relevant(self, pod: PodInfo) -> bool:
        return True

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status:
        for c in node_info.node.status.conditions:
            if c.type == "Ready":
                return SUCCESS if c.status == "True" else Status.unschedulable(REASON, plugin=NAME)
        return Status.unschedulable(REASON, plugin=NAME)


def factory(args: PluginArgs = None) -> NodeReady:
    return NodeReady()
