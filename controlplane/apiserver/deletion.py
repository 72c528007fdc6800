"""Two-phase deletion: what a delete request does to the current object.

- finalizers (present, or added by propagationPolicy Foreground ->
  "foregroundDeletion", Orphan -> "orphan"): set deletionTimestamp and keep
  the object until an update removes the last finalizer;
- a pod bound to a node: set deletionTimestamp (now + grace) and
  deletionGracePeriodSeconds (the request's, else
  spec.terminationGracePeriodSeconds, else 30) and keep it until its agent
  confirms with grace 0;
- anything else (an unscheduled pod too): remove at once.
"""

from __future__ import annotations

from controlplane import errors
from controlplane.apiserver import objects as o
from proto import api_pb2

POLICY_FINALIZERS = {"Background": None, "": None, "Foreground": "foregroundDeletion",
                     "Orphan": "orphan"}
DEFAULT_GRACE = 30


def plan_delete(cur: api_pb2.Object, grace: int | None, policy: str,
                ) -> tuple[str, api_pb2.Object]:
    """("remove", cur) | ("update", new object) | ("noop", cur)."""
    if policy not in POLICY_FINALIZERS:
        raise errors.BadRequest(f'unknown propagationPolicy "{policy}": use Background, '
                                "Foreground or Orphan")
    if grace is not None and grace < 0:
        raise errors.BadRequest(f"gracePeriodSeconds must be >= 0, got {grace}")
    new = o.copy(cur)
    m = o.meta(new)
    extra = POLICY_FINALIZERS[policy]
    if extra and extra not in m.finalizers and not m.HasField("deletion_timestamp"):
        m.finalizers.append(extra)
    deleting = m.HasField("deletion_timestamp")

    if o.is_bound_pod(cur):
        if grace is None:
            spec = new.pod.spec
            grace = (spec.termination_grace_period_seconds
                     if spec.HasField("termination_grace_period_seconds") else DEFAULT_GRACE)
        if grace == 0 and not len(m.finalizers):
            return "remove", cur
        if deleting and m.HasField("deletion_grace_period_seconds") \
                and m.deletion_grace_period_seconds <= grace:
            return ("noop", cur) if new == cur else ("update", new)
        m.deletion_timestamp.CopyFrom(o.in_seconds(grace))
        m.deletion_grace_period_seconds = grace
        return "update", new

    if not len(m.finalizers):
        return "remove", cur
    if deleting:
        return ("noop", cur) if new == cur else ("update", new)
    m.deletion_timestamp.CopyFrom(o.now())
    m.deletion_grace_period_seconds = 0
    return "update", new
