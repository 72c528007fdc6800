"""Helpers on pods and owners shared by the controllers (pure functions)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from controlplane.objects import ts_seconds
from proto import core_pb2, meta_pb2


def controller_ref(meta: meta_pb2.ObjectMeta) -> meta_pb2.OwnerReference | None:
    for ref in meta.owner_references:
        if ref.HasField("controller") and ref.controller:
            return ref
    return None


def is_active(pod: core_pb2.Pod) -> bool:
    """Counts toward replicas: not finished and not being deleted."""
    return (pod.status.phase not in ("Succeeded", "Failed")
            and not pod.metadata.HasField("deletion_timestamp"))


def ready_condition(pod: core_pb2.Pod) -> core_pb2.PodCondition | None:
    for c in pod.status.conditions:
        if c.type == "Ready":
            return c
    return None


def is_ready(pod: core_pb2.Pod) -> bool:
    c = ready_condition(pod)
    return c is not None and c.status == "True"


def is_available(pod: core_pb2.Pod, min_ready_seconds: int, now: float | None = None) -> bool:
    """Ready for at least min_ready_seconds."""
    c = ready_condition(pod)
    if c is None or c.status != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    if not c.HasField("last_transition_time"):
        return False
    now = time.time() if now is None else now
    return ts_seconds(c.last_transition_time) + min_ready_seconds <= now


def available_in(pod: core_pb2.Pod, min_ready_seconds: int, now: float) -> float | None:
    """Seconds until a ready pod becomes available (None if not ready or already)."""
    c = ready_condition(pod)
    if c is None or c.status != "True" or min_ready_seconds <= 0:
        return None
    left = ts_seconds(c.last_transition_time) + min_ready_seconds - now
    return left if left > 0 else None


def _phase_rank(phase: str) -> int:
    return {"Pending": 0, "Unknown": 1, "Running": 2}.get(phase, 0)


def deletion_rank(pod: core_pb2.Pod) -> tuple[int, int, int, float, int, float]:
    """Sort key: pods to delete first sort first (Kubernetes' ActivePods order):
    unscheduled < scheduled; Pending < Unknown < Running; not ready < ready;
    ready for less time first; more restarts first; newer first."""
    ready = is_ready(pod)
    c = ready_condition(pod)
    ready_since = ts_seconds(c.last_transition_time) if (ready and c is not None) else 0.0
    restarts = max((s.restart_count for s in pod.status.container_statuses), default=0)
    created = ts_seconds(pod.metadata.creation_timestamp)
    return (
        1 if pod.spec.node_name else 0,
        _phase_rank(pod.status.phase),
        1 if ready else 0,
        -ready_since,   # more recently ready first
        -restarts,      # more restarts first
        -created,       # newer first
    )


def pods_to_delete(pods: Iterable[core_pb2.Pod], n: int) -> list[core_pb2.Pod]:
    """The n pods to delete first when scaling down."""
    return sorted(pods, key=deletion_rank)[:max(n, 0)]


class Expectations:
    """ControllerExpectations: creations/deletions a controller has asked for
    and not yet seen in its informer. While some are outstanding it must not
    act again on stale counts (or a burst would double-create)."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._exp: dict[str, tuple[int, int, float]] = {}   # key -> (adds, dels, when)
        self._dels: dict[str, set[str]] = {}                # key -> pod keys to be deleted

    def expect(self, key: str, adds: int = 0, dels: Iterable[str] = ()) -> None:
        dset = set(dels)
        a, d, _ = self._exp.get(key, (0, 0, 0.0))
        self._exp[key] = (a + adds, d + len(dset), time.monotonic())
        if dset:
            self._dels.setdefault(key, set()).update(dset)

    def creation_observed(self, key: str) -> None:
        e = self._exp.get(key)
        if e is not None and e[0] > 0:
            self._exp[key] = (e[0] - 1, e[1], e[2])

    def creation_failed(self, key: str) -> None:
        self.creation_observed(key)

    def deletion_observed(self, key: str, pod_key: str) -> None:
        s = self._dels.get(key)
        if s is None or pod_key not in s:
            return
        s.discard(pod_key)
        e = self._exp.get(key)
        if e is not None and e[1] > 0:
            self._exp[key] = (e[0], e[1] - 1, e[2])

    def satisfied(self, key: str) -> bool:
        e = self._exp.get(key)
        if e is None:
            return True
        adds, dels, when = e
        if adds <= 0 and dels <= 0:
            return True
        return time.monotonic() - when > self.ttl  # expired: resync from scratch

    def delete(self, key: str) -> None:
        self._exp.pop(key, None)
        self._dels.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        a, d, _ = self._exp.get(key, (0, 0, 0.0))
        return a, d
