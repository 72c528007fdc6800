"""NodeUnschedulable: a cordoned node (spec.unschedulable) takes no new pods,
unless the pod tolerates the node.kubernetes.io/unschedulable:NoSchedule taint."""

from __future__ import annotations

from typing import Any

from ..framework import SUCCESS, CycleState, NodeInfo, PodInfo, Status

NAME = "NodeUnschedulable"
REASON = "node(s) were unschedulable"
TAINT_KEY = "node.kubernetes.io/unschedulable"


class NodeUnschedulable:
    name = NAME
    passes_clean_nodes = True  # only a not-ready, cordoned or tainted node can fail

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status:
        if not node_info.node.spec.unschedulable:
            return SUCCESS
        for t in pod.pod.spec.tolerations:
            if (t.operator == "Exists" and not t.key) or (
                    t.key == TAINT_KEY and t.effect in ("", "NoSchedule")):
                return SUCCESS
        return Status.unresolvable(REASON, plugin=NAME)


def factory(args: dict[str, Any] | None = None) -> NodeUnschedulable:
    return NodeUnschedulable()
