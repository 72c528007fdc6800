"""LeastAllocated: prefer the node with the most free cpu and memory after
placing the pod (Kubernetes' NodeResourcesFit LeastAllocated strategy):
score = mean over cpu, memory of (allocatable - requested) * 100 / allocatable,
using Kubernetes' non-zero defaults (100m, 200Mi) for containers without requests."""

from __future__ import annotations

from ..framework import MAX_NODE_SCORE, SUCCESS, CycleState, NodeInfo, PluginArgs, PodInfo, Status

NAME = "LeastAllocated"


def _free(requested: int, capacity: int) -> int:
    if capacity <= 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


class LeastAllocated:
    name = NAME
    description = "least allocated"

    def relevant(self, pod: PodInfo) -> bool:
        return True

    def score(self, state: CycleState, pod: PodInfo, node_info: NodeInfo
              ) -> tuple[int, Status]:
        a = node_info.allocatable
        r = node_info.nonzero_requested
        cpu = _free(r.milli_cpu + pod.nonzero.milli_cpu, a.milli_cpu)
        mem = _free(r.memory + pod.nonzero.memory, a.memory)
        return (cpu + mem) // 2, SUCCESS

    def normalize(self, scores: list[int]) -> list[int]:
        return scores  # already 0..100


def factory(args: PluginArgs = None) -> LeastAllocated:
    return LeastAllocated()
