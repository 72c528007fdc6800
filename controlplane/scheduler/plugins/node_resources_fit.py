"""NodeResourcesFit: the pod's requests fit the node's allocatable minus what
the pods already bound (or assumed) there request: cpu, memory and pod count."""

from __future__ import annotations

from ..framework import SUCCESS, CycleState, NodeInfo, PluginArgs, PodInfo, Status

NAME = "NodeResourcesFit"


class NodeResourcesFit:
    name = NAME
    passes_clean_nodes = False

    def relevant(self, pod: PodInfo) -> bool:
        return True

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status:
        alloc = node_info.allocatable
        used = node_info.requested
        req = pod.requests
        reasons: list[str] = []
        if used.pods + 1 > alloc.pods:
            reasons.append("Too many pods")
        if req.milli_cpu and used.milli_cpu + req.milli_cpu > alloc.milli_cpu:
            reasons.append("Insufficient cpu")
        if req.memory and used.memory + req.memory > alloc.memory:
            reasons.append("Insufficient memory")
        if reasons:
            return Status.unschedulable(*reasons, plugin=NAME)
        return SUCCESS


def factory(args: PluginArgs = None) -> NodeResourcesFit:
    return NodeResourcesFit()
