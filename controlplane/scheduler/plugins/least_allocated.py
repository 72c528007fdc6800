"""LeastAllocated: prefer the node with the most free cpu and memory after
placing the pod (Kubernetes' NodeResourcesFit LeastAllocated strategy):
score = mean over cpu, memory of (allocatable - requested) * 100 / allocatable,
using Kubernetes' non-zero defaults (100m, 200Mi) for containers without requests."""

from __future__ import annotations

from ..framework import MAX_NODE_SCORE, SUCCESS, CycleState, NodeInfo, PluginArgs, PodInfo, Status

NAME = "LeastAllocated"


class LeastAllocated:
    name = NAME
    description = "least allocated"

    def relevant(self, pod: PodInfo) -> bool:
        return True

    def score(self, state: CycleState, pod: PodInfo, node_info: NodeInfo
              ) -> tuple[int, Status]:
        # cpu, then memory, written out: this runs for every node of every pod
        a, r, p = node_info.allocatable, node_info.nonzero_requested, pod.nonzero
        cap, req = a.milli_cpu, r.milli_cpu + p.milli_cpu
        cpu = (cap - req) * MAX_NODE_SCORE // cap if cap > 0 and req <= cap else 0
        cap, req = a.memory, r.memory + p.memory
        mem = (cap - req) * MAX_NODE_SCORE // cap if cap > 0 and req <= cap else 0
        return (cpu + mem) // 2, SUCCESS

    def normalize(self, scores: list[int]) -> list[int]:
        return scores  # already 0..100


def factory(args: PluginArgs = None) -> LeastAllocated:
    return LeastAllocated()
