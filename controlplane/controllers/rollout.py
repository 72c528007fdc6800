"""Rolling-update arithmetic (pure functions, Kubernetes' deployment/util).

maxSurge rounds up, maxUnavailable rounds down; if both resolve to 0,
maxUnavailable becomes 1 (a rollout must be able to move).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from proto import apps_pb2, meta_pb2

DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"


def scaled_value(v: meta_pb2.IntOrString | int | str | None, total: int, round_up: bool,
                 default: str = "25%") -> int:
    """An IntOrString against total: 3 -> 3; "25%" of 10 -> 3 (up) or 2 (down)."""
    if isinstance(v, meta_pb2.IntOrString):
        which = v.WhichOneof("value")
        v = None if which is None else (v.int_val if which == "int_val" else v.str_val)
    if v is None or v == "":
        v = default
    if isinstance(v, int):
        return v
    s = v.strip()
    if not s.endswith("%"):
        try:
            return int(s)
        except ValueError:
            raise ValueError(f"invalid value for IntOrString: {v!r}") from None
    try:
        pct = int(s[:-1])
    except ValueError:
        raise ValueError(f"invalid value for IntOrString: invalid type: string is not a "
                         f"percentage: {v!r}") from None
    x = pct * total
    return math.ceil(x / 100) if round_up else math.floor(x / 100)


def resolve_fenceposts(max_surge: meta_pb2.IntOrString | int | str | None,
                       max_unavailable: meta_pb2.IntOrString | int | str | None,
                       desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts for desired replicas."""
    surge = scaled_value(max_surge, desired, True, DEFAULT_MAX_SURGE)
    unavailable = scaled_value(max_unavailable, desired, False, DEFAULT_MAX_UNAVAILABLE)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def deployment_fenceposts(d: apps_pb2.Deployment) -> tuple[int, int]:
    desired = replicas_of(d)
    if d.spec.strategy.type == "Recreate":
        return 0, 0
    ru = d.spec.strategy.rolling_update
    surge_v = ru.max_surge if ru.HasField("max_surge") else None
    unav_v = ru.max_unavailable if ru.HasField("max_unavailable") else None
    surge, unav = resolve_fenceposts(surge_v, unav_v, desired)
    return surge, min(unav, desired)


def replicas_of(d: apps_pb2.Deployment | apps_pb2.ReplicaSet) -> int:
    return d.spec.replicas if d.spec.HasField("replicas") else 1


def new_rs_replicas(desired: int, max_surge: int, current_total: int, new_current: int) -> int:
    """How many replicas the new ReplicaSet may have now (NewRSNewReplicas).

    current_total: pods of all ReplicaSets (per RS max(spec, existing pods)).
    """
    if new_current >= desired:
        return desired
    max_total = desired + max_surge
    if current_total >= max_total:
        return new_current
    return new_current + min(max_total - current_total, desired - new_current)


def plan_old_scale_down(desired: int, max_unavailable: int, new_spec: int,
                        new_available: int, old: Sequence[tuple[int, int]]) -> list[int]:
    """New spec.replicas for the old ReplicaSets, given as (spec replicas, available
    pods), oldest first (reconcileOldReplicaSets).

    maxScaledDown = all spec replicas - (desired - maxUnavailable) - unavailable new
    pods. Unhealthy old replicas (spec - available) go first, within maxScaledDown;
    then healthy ones, oldest ReplicaSet first, only as far as the available pods
    stay >= desired - maxUnavailable.
    """
    out = [s for s, _ in old]
    min_available = desired - max_unavailable
    all_spec = new_spec + sum(out)
    new_unavailable = max(new_spec - new_available, 0)
    max_scaled_down = all_spec - min_available - new_unavailable
    if max_scaled_down <= 0 or not out:
        return out
    left = max_scaled_down
    for i, (spec, avail) in enumerate(old):
        if left <= 0:
            break
        n = min(max(spec - avail, 0), left)
        out[i] -= n
        left -= n
    available_total = new_available + sum(min(a, s) for s, a in zip(out, (a for _, a in old),
                                                                      strict=True))
    healthy_budget = min(left, available_total - min_available)
    for i in range(len(out)):
        if healthy_budget <= 0:
            break
        n = min(out[i], healthy_budget)
        out[i] -= n
        healthy_budget -= n
    return out
