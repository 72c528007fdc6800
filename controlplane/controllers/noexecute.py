"""When a NoExecute taint evicts a pod (Kubernetes' taint manager semantics).

For each NoExecute taint of the pod's node:

* no toleration of the pod matches it: evict at once. The node lifecycle
  controller's own taints (``unreachable``, ``not-ready``) are the exception:
  a pod with no toleration for them gets the profile's pod eviction timeout,
  as Kubernetes' DefaultTolerationSeconds admission gives every pod
  ``tolerationSeconds: 300`` for them;
* the matching tolerations all have ``tolerationSeconds``: evict that many
  seconds (the smallest; <= 0 means at once) after the taint was added;
* a matching toleration has no ``tolerationSeconds``: tolerated forever.

The pod goes at the earliest time any of its node's taints says so.
"""

from __future__ import annotations

from collections.abc import Iterable

from controlplane.tolerations import tolerates
from proto import core_pb2

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
NODE_CONDITION_TAINTS = (UNREACHABLE, NOT_READY)


def taint_id(taint: core_pb2.Taint) -> tuple[str, str, str]:
    return (taint.key, taint.value, taint.effect)


def toleration_delay(pod: core_pb2.Pod, taint: core_pb2.Taint,
                     default_seconds: float) -> float | None:
    """Seconds after `taint` was added that it evicts `pod`; None: never."""
    matching = [t for t in pod.spec.tolerations if tolerates(t, taint)]
    if not matching:
        return default_seconds if taint.key in NODE_CONDITION_TAINTS else 0.0
    if any(not t.HasField("toleration_seconds") for t in matching):
        return None
    return float(max(min(t.toleration_seconds for t in matching), 0))


def eviction_time(pod: core_pb2.Pod, taints: Iterable[core_pb2.Taint],
                  added_at: dict[tuple[str, str, str], float],
                  default_seconds: float) -> float | None:
    """The (monotonic) time the node's NoExecute taints evict `pod`; None: never.

    `added_at` maps each taint (taint_id) to when it was first seen.
    """
    when: float | None = None
    for taint in taints:
        if taint.effect != "NoExecute":
            continue
        delay = toleration_delay(pod, taint, default_seconds)
        if delay is None:
            continue
        at = added_at[taint_id(taint)] + delay
        when = at if when is None else min(when, at)
    return when


def due(pods: Iterable[core_pb2.Pod], taints: list[core_pb2.Taint],
        added_at: dict[tuple[str, str, str], float], default_seconds: float,
        now: float) -> tuple[list[core_pb2.Pod], float | None]:
    """(the pods to evict now, when the next of the others is due or None)."""
    victims: list[core_pb2.Pod] = []
    next_at: float | None = None
    for pod in pods:
        at = eviction_time(pod, taints, added_at, default_seconds)
        if at is None:
            continue
        if at <= now:
            victims.append(pod)
        else:
            next_at = at if next_at is None else min(next_at, at)
    return victims, next_at
