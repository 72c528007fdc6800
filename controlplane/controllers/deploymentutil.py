"""What the deployment controller (controllers/deployment.py) computes without
writing: template hashes, revisions, conditions, and one reconcile's view (`Ctx`)
of a Deployment, its ReplicaSets and their pods."""

from __future__ import annotations

from controlplane.objects import now_ts, ts_seconds
from proto import api_pb2, apps_pb2, core_pb2

from . import podutil, rollout

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
DEFAULT_HISTORY = 10
DEFAULT_DEADLINE = 600

_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(t: core_pb2.PodTemplateSpec, collision_count: int = 0) -> str:
    """FNV-32a of the template (without pod-template-hash), safe-encoded like Kubernetes."""
    c = core_pb2.PodTemplateSpec()
    c.CopyFrom(t)
    c.metadata.labels.pop(HASH_LABEL, None)
    data = c.SerializeToString(deterministic=True)
    if collision_count:
        data += str(collision_count).encode()
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(h))


def templates_equal(rs_t: core_pb2.PodTemplateSpec, d_t: core_pb2.PodTemplateSpec) -> bool:
    a = core_pb2.PodTemplateSpec()
    a.CopyFrom(rs_t)
    a.metadata.labels.pop(HASH_LABEL, None)
    b = core_pb2.PodTemplateSpec()
    b.CopyFrom(d_t)
    b.metadata.labels.pop(HASH_LABEL, None)
    return a == b


def revision(rs: apps_pb2.ReplicaSet) -> int:
    try:
        return int(rs.metadata.annotations.get(REVISION, "0"))
    except ValueError:
        return 0


def created_key(rs: apps_pb2.ReplicaSet) -> tuple[float, str]:
    return (ts_seconds(rs.metadata.creation_timestamp), rs.metadata.name)


def cond(status: apps_pb2.DeploymentStatus, type_: str) -> apps_pb2.DeploymentCondition | None:
    for c in status.conditions:
        if c.type == type_:
            return c
    return None


def set_cond(status: apps_pb2.DeploymentStatus, type_: str, st: str, reason: str,
              message: str, *, bump_update: bool = True) -> None:
    now = now_ts()
    old = cond(status, type_)
    new = apps_pb2.DeploymentCondition(type=type_, status=st, reason=reason, message=message)
    if old is not None and old.status == st:
        new.last_transition_time.CopyFrom(old.last_transition_time)
        if not bump_update and old.reason == reason:
            new.last_update_time.CopyFrom(old.last_update_time)
        else:
            new.last_update_time.CopyFrom(now)
    else:
        new.last_transition_time.CopyFrom(now)
        new.last_update_time.CopyFrom(now)
    kept = [c for c in status.conditions if c.type != type_]
    del status.conditions[:]
    status.conditions.extend(kept)
    status.conditions.append(new)


class Ctx:
    """What one reconcile knows: the deployment, its ReplicaSets and their pods."""

    def __init__(self, d_obj: api_pb2.Object, rss: list[api_pb2.Object],
                 pods: dict[str, list[core_pb2.Pod]], now: float) -> None:
        self.d_obj = d_obj
        self.d = d_obj.deployment
        self.rss = rss
        self.pods = pods        # rs uid -> all its pods (incl. terminating)
        self.now = now
        self.progressed = False
        self.created_new = False

    def active_pods(self, rs: apps_pb2.ReplicaSet) -> list[core_pb2.Pod]:
        return [p for p in self.pods.get(rs.metadata.uid, []) if podutil.is_active(p)]

    def count(self, rs: apps_pb2.ReplicaSet) -> int:
        return max(rollout.replicas_of(rs), len(self.active_pods(rs)))

    def available(self, rs: apps_pb2.ReplicaSet) -> int:
        mrs = self.d.spec.min_ready_seconds
        return sum(1 for p in self.active_pods(rs) if podutil.is_available(p, mrs, self.now))

    def replace(self, new: api_pb2.Object) -> None:
        uid = new.replica_set.metadata.uid
        self.rss = [new if o.replica_set.metadata.uid == uid else o for o in self.rss]


def find_new(ctx: Ctx) -> api_pb2.Object | None:
    d = ctx.d
    h = template_hash(d.spec.template, d.status.collision_count)
    cands = [o for o in ctx.rss
             if o.replica_set.metadata.labels.get(HASH_LABEL) == h
             or templates_equal(o.replica_set.spec.template, d.spec.template)]
    cands.sort(key=lambda o: created_key(o.replica_set))
    return cands[0] if cands else None


def old_sets(ctx: Ctx, new: api_pb2.Object | None) -> list[api_pb2.Object]:
    nuid = new.replica_set.metadata.uid if new is not None else ""
    olds = [o for o in ctx.rss if o.replica_set.metadata.uid != nuid]
    olds.sort(key=lambda o: created_key(o.replica_set))
    return olds


def complete(ctx: Ctx, new: api_pb2.Object) -> bool:
    desired = rollout.replicas_of(ctx.d)
    rs = new.replica_set
    olds = old_sets(ctx, new)
    return (rollout.replicas_of(rs) == desired and ctx.available(rs) >= desired
            and len(ctx.active_pods(rs)) == desired
            and all(ctx.count(o.replica_set) == 0 for o in olds))


def same_status(a: apps_pb2.DeploymentStatus, b: apps_pb2.DeploymentStatus) -> bool:
    """Equal ignoring condition timestamps that only moved (no write for them)."""
    x = apps_pb2.DeploymentStatus()
    x.CopyFrom(a)
    y = apps_pb2.DeploymentStatus()
    y.CopyFrom(b)
    for s in (x, y):
        for c in s.conditions:
            c.ClearField("last_update_time")
            c.ClearField("last_transition_time")
        s.conditions.sort(key=lambda c: c.type)
    return x == y


def pod_ctrl_uid(o: api_pb2.Object) -> list[str]:
    ref = podutil.controller_ref(o.pod.metadata)
    return [ref.uid] if ref is not None and ref.kind == "ReplicaSet" else []
