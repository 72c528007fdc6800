"""Drain before SIGTERM: a terminating pod leaves every node's service rules before its
containers are signalled, so a rolling update drops no request.

In Kubernetes the kubelet signals a deleted pod's containers at once, while every
node's kube-proxy is still removing the pod from its rules; connections opened in
that gap fail (people add `preStop: sleep 5`). Here, before the containers are
stopped, the agent waits until
  1. the endpoints controller has marked the pod not ready in every EndpointSlice
     that lists it (the pod's deletionTimestamp makes it `terminating`), and
  2. every Ready node whose proxy reports (annotation proxy.corral.dev/synced-revision,
     agent/proxy/publish.py) has rules at or past the newest of those slices'
     revisions,
or until the bound: the agent profile's drain timeout, at most the pod's grace period,
or the pod's annotation `drain.corral.dev/timeout-seconds` ("0": no drain). A pod no
Service selects does not wait at all. The time spent comes out of the grace period.

    drain = Drain(watch, clock=time.monotonic)
    state = drain.check(pod)          # DrainState: done? why not? which nodes lag
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.proxy.publish import revision_of
from agent.servicewatch import ServiceWatch
from proto import api_pb2, core_pb2

ANNOTATION = "drain.corral.dev/timeout-seconds"


@dataclass
class DrainState:
    done: bool
    why: str = ""                       # what is waited for, when not done
    services: set[str] = field(default_factory=set)
    nodes: list[str] = field(default_factory=list)        # nodes whose rules count
    lagging: list[str] = field(default_factory=list)      # ... not there yet


def bound(pod: core_pb2.Pod, default: float) -> float:
    """How long the pod may drain: its annotation, else `default`, at most its grace."""
    limit = float(default)
    text = pod.metadata.annotations.get(ANNOTATION, "")
    try:
        if text:
            limit = max(float(text), 0.0)
    except ValueError:
        pass
    grace = pod.metadata.deletion_grace_period_seconds \
        if pod.metadata.HasField("deletion_grace_period_seconds") else \
        pod.spec.termination_grace_period_seconds
    return min(limit, float(grace))


def _ready(node: core_pb2.Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


class Drain:
    def __init__(self, watch: ServiceWatch) -> None:
        self.watch = watch

    def _slices(self, uid: str) -> list[api_pb2.Object]:
        return [o for o in self.watch.slices.items().values()
                if any(e.target_ref.uid == uid for e in o.endpoint_slice.endpoints)]

    def check(self, pod: core_pb2.Pod) -> DrainState:
        uid = pod.metadata.uid
        slices = self._slices(uid)
        if not slices:
            return DrainState(True)
        services = {o.endpoint_slice.metadata.labels.get("kubernetes.io/service-name", "")
                    for o in slices}
        for o in slices:
            for e in o.endpoint_slice.endpoints:
                if e.target_ref.uid == uid and (not e.conditions.HasField("ready")
                                                or e.conditions.ready):
                    return DrainState(False, "the endpoints controller has not taken the pod "
                                      "out of its Services yet", services)
        needed = max(int(o.endpoint_slice.metadata.resource_version or 0) for o in slices)
        nodes, lagging = [], []
        for o in self.watch.nodes.items().values():
            node = o.node
            rev = revision_of(node)
            if rev is None or not _ready(node):
                continue
            nodes.append(node.metadata.name)
            if rev < needed:
                lagging.append(node.metadata.name)
        if lagging:
            return DrainState(False, f"the service proxies of {', '.join(sorted(lagging))} "
                              f"have not reached revision {needed}", services, nodes, lagging)
        return DrainState(True, "", services, nodes)
