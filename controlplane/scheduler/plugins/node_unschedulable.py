"""NodeUnschedulable: a cordoned node (spec.unschedulable) takes no new pods,
unless the pod tolerates the node.kubernetes.io/unschedulable:NoSchedule taint."""

from __future__ import annotations

from controlplane.tolerations import tolerated
from proto import core_pb2

from ..framework import SUCCESS, CycleState, NodeInfo, PluginArgs, PodInfo, Status

NAME = "NodeUnschedulable"
REASON = "node(s) were unschedulable"
TAINT_KEY = "node.kubernetes.io/unschedulable"
TAINT = core_pb2.Taint(key=TAINT_KEY, effect="NoSchedule")


class NodeUnschedulable:
    name = NAME
    passes_clean_nodes = True  # only a not-ready, cordoned or tainted node can fail

    def relevant(self, pod: PodInfo) -> bool:
        return True

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status:
        if not node_info.node.spec.unschedulable or tolerated(pod.pod.spec.tolerations, TAINT):
            return SUCCESS
        return Status.unresolvable(REASON, plugin=NAME)


def factory(args: PluginArgs = None) -> NodeUnschedulable:
    return NodeUnschedulable()
