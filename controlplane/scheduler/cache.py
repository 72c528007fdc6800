"""The scheduler's cache: a NodeInfo per node with the pods bound to it.

Fed by the pod and node informers. A pod the scheduler has decided to bind is
*assumed* onto its node at once (its requests count before the bind reaches
etcd), so a burst of pods never overcommits a node; a failed bind *forgets*
it. When the informer later shows the pod bound, the assumption is confirmed.
An assumed pod whose bind never shows up expires after ``assume_ttl``.
"""

from __future__ import annotations

import time

from proto import core_pb2

from .framework import NodeInfo, PodInfo
from .resources import node_allocatable, pod_info


def is_clean(node: core_pb2.Node) -> bool:
    """Ready, schedulable, no NoSchedule/NoExecute taints."""
    ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
    return (ready and not node.spec.unschedulable
            and not any(t.effect in ("NoSchedule", "NoExecute") for t in node.spec.taints))


def _counts(pod: core_pb2.Pod) -> bool:
    """Does a bound pod hold its node's resources? (not when finished)"""
    return pod.status.phase not in ("Succeeded", "Failed")


class Cache:
    def __init__(self, assume_ttl: float = 30.0) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self._pod_node: dict[str, str] = {}               # uid -> node (bound or assumed)
        self._assumed: dict[str, tuple[str, float]] = {}  # uid -> (node, deadline)
        self._pending: dict[str, PodInfo] = {}            # bound to a node not (yet) known
        self.assume_ttl = assume_ttl
        self.generation = 0

    # ---- nodes -----------------------------------------------------------
    def set_node(self, node: core_pb2.Node) -> None:
        name = node.metadata.name
        ni = self.nodes.get(name)
        if ni is None:
            ni = NodeInfo(node=node, name=name, allocatable=node_allocatable(node),
                          clean=is_clean(node))
            self.nodes[name] = ni
            for uid, pi in list(self._pending.items()):
                if self._pod_node.get(uid) == name:
                    ni.add_pod(pi)
                    del self._pending[uid]
        else:
            ni.node = node
            ni.allocatable = node_allocatable(node)
            ni.clean = is_clean(node)
            ni.generation += 1
        self.generation += 1

    def remove_node(self, name: str) -> None:
        ni = self.nodes.pop(name, None)
        if ni is not None:
            for uid, pi in ni.pods.items():
                self._pending[uid] = pi
        self.generation += 1

    # ---- pods ------------------------------------------------------------
    def set_pod(self, pod: core_pb2.Pod) -> None:
        """A pod as the informer sees it (added or updated)."""
        uid = pod.metadata.uid
        node = pod.spec.node_name
        if not node:
            return
        if not _counts(pod):
            self.remove_pod(uid)
            return
        self._assumed.pop(uid, None)  # confirmed (or bound by someone else)
        cur = self._pod_node.get(uid)
        if cur == node:
            return
        if cur is not None:
            self.remove_pod(uid)
        self._place(uid, node, pod_info(pod))

    def remove_pod(self, uid: str) -> None:
        node = self._pod_node.pop(uid, None)
        self._assumed.pop(uid, None)
        self._pending.pop(uid, None)
        if node is not None:
            ni = self.nodes.get(node)
            if ni is not None:
                ni.remove_pod(uid)
            self.generation += 1

    def assume(self, pi: PodInfo, node: str) -> None:
        """Count the pod on node now; its bind is in flight (no expiry yet)."""
        self._place(pi.uid, node, pi)
        self._assumed[pi.uid] = (node, float("inf"))

    def finish_binding(self, uid: str) -> None:
        """The bind succeeded: expire the assumption if the informer never confirms it."""
        cur = self._assumed.get(uid)
        if cur is not None:
            self._assumed[uid] = (cur[0], time.monotonic() + self.assume_ttl)

    def forget(self, uid: str) -> None:
        if uid in self._assumed:
            self.remove_pod(uid)

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    def node_of(self, uid: str) -> str | None:
        return self._pod_node.get(uid)

    def cleanup_expired(self) -> int:
        now = time.monotonic()
        expired = [uid for uid, (_, dl) in self._assumed.items() if dl < now]
        for uid in expired:
            self.remove_pod(uid)
        return len(expired)

    def _place(self, uid: str, node: str, pi: PodInfo) -> None:
        self._pod_node[uid] = node
        ni = self.nodes.get(node)
        if ni is None:
            self._pending[uid] = pi
        else:
            ni.add_pod(pi)
        self.generation += 1
