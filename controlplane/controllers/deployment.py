"""Deployment controller: a ReplicaSet per pod template, rolled out safely.

* Each template gets a ReplicaSet ``<deployment>-<hash>`` whose selector and
  template carry ``pod-template-hash=<hash>``; the RS with the current
  template is the *new* one, every other is *old*. Its
  ``deployment.kubernetes.io/revision`` annotation is one more than the
  highest old revision (so a rollback, which rewrites the template to an old
  one, re-uses that RS under a new revision).
* RollingUpdate: scale the new RS up while all pods (per RS the larger of
  spec.replicas and the pods that exist) stay <= replicas + maxSurge; scale
  old RSs down while available pods stay >= replicas - maxUnavailable
  (availability counted from the pods themselves, the freshest view).
* Recreate: old RSs to 0, wait for their pods to be gone, then the new one.
* Conditions: Available (MinimumReplicasAvailable/Unavailable) and
  Progressing (NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable,
  ProgressDeadlineExceeded after progressDeadlineSeconds without progress).
* revisionHistoryLimit: old RSs at 0 replicas beyond the limit are deleted.
* paused: no rollout (status still updated).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from controlplane import errors, events
from controlplane.informer import Handler, InformerFactory, copy_of
from controlplane.profiles import DEFAULT, Profile
from proto import api_pb2, apps_pb2, core_pb2, meta_pb2
from proto.labels import from_label_selector

from . import podutil, rollout
from .base import DONE, Controller, Result

log = logging.getLogger(__name__)

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


def _created(rs: apps_pb2.ReplicaSet) -> tuple[float, str]:
    return (podutil.ts_seconds(rs.metadata.creation_timestamp), rs.metadata.name)


def _cond(status: apps_pb2.DeploymentStatus, type_: str) -> apps_pb2.DeploymentCondition | None:
    for c in status.conditions:
        if c.type == type_:
            return c
    return None


def _set_cond(status: apps_pb2.DeploymentStatus, type_: str, st: str, reason: str,
              message: str, *, bump_update: bool = True) -> None:
    now = podutil.now_ts()
    old = _cond(status, type_)
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


class _Ctx:
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


class DeploymentController(Controller):
    name = "deployment"
    workers = 4

    def __init__(self, registry: Any, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None,
                 profile: Profile = DEFAULT) -> None:
        super().__init__(backoff_initial=profile.workqueue_backoff_initial,
                         backoff_max=profile.workqueue_backoff_max)
        self.registry = registry
        self.recorder = recorder or events.EventRecorder(registry, "deployment-controller")
        self.deployments = factory.informer("deployments")
        self.rs = factory.informer("replicasets")
        self.pods = factory.informer("pods")
        self.rs.add_indexer("rs-namespace", lambda o: [o.replica_set.metadata.namespace])
        self.pods.add_indexer("rs-controller", _pod_ctrl_uid)
        self.rs.add_indexer("uid", lambda o: [o.replica_set.metadata.uid])
        self.deployments.add_handler(Handler(
            self._d_changed, lambda o, n: self._d_changed(n), self._d_changed))
        self.rs.add_handler(Handler(self._rs_changed, self._rs_updated, self._rs_changed))
        self.pods.add_handler(Handler(self._pod_changed, lambda o, n: self._pod_changed(n),
                                      self._pod_changed))

    async def wait_synced(self) -> None:
        await asyncio.gather(self.deployments.wait_synced(), self.rs.wait_synced(),
                             self.pods.wait_synced())

    # ---- handlers ----------------------------------------------------------
    def _d_changed(self, o: api_pb2.Object) -> None:
        m = o.deployment.metadata
        self.enqueue(f"{m.namespace}/{m.name}")

    def _rs_owner(self, rs: apps_pb2.ReplicaSet) -> None:
        ref = podutil.controller_ref(rs.metadata)
        if ref is not None:
            if ref.kind == "Deployment":
                self.enqueue(f"{rs.metadata.namespace}/{ref.name}")
            return
        for o in self.deployments.list():
            d = o.deployment
            if d.metadata.namespace != rs.metadata.namespace:
                continue
            try:
                if from_label_selector(d.spec.selector).matches(rs.metadata.labels):
                    self.enqueue(f"{d.metadata.namespace}/{d.metadata.name}")
            except Exception:
                continue

    def _rs_changed(self, o: api_pb2.Object) -> None:
        self._rs_owner(o.replica_set)

    def _rs_updated(self, old: api_pb2.Object, new: api_pb2.Object) -> None:
        self._rs_owner(new.replica_set)
        if podutil.controller_ref(old.replica_set.metadata) != \
                podutil.controller_ref(new.replica_set.metadata):
            self._rs_owner(old.replica_set)

    def _pod_changed(self, o: api_pb2.Object) -> None:
        ref = podutil.controller_ref(o.pod.metadata)
        if ref is None or ref.kind != "ReplicaSet":
            return
        for rs in self.rs.by_index("uid", ref.uid):
            dref = podutil.controller_ref(rs.replica_set.metadata)
            if dref is not None and dref.kind == "Deployment":
                self.enqueue(f"{rs.replica_set.metadata.namespace}/{dref.name}")

    # ---- reconcile ---------------------------------------------------------
    async def reconcile(self, key: str) -> Result:
        d_obj = self.deployments.get(key)
        if d_obj is None:
            return DONE
        d = d_obj.deployment
        if d.metadata.HasField("deletion_timestamp"):
            return DONE
        selector = from_label_selector(d.spec.selector)
        if selector.empty:
            self.recorder.record(d_obj, events.WARNING, "SelectingAll",
                                 "This deployment is selecting all pods. A non-empty "
                                 "selector is required.")
            return DONE
        rss = await self._claim(d_obj, selector)
        pods: dict[str, list[core_pb2.Pod]] = {}
        for o in rss:
            uid = o.replica_set.metadata.uid
            pods[uid] = [p.pod for p in self.pods.by_index("rs-controller", uid)]
        ctx = _Ctx(d_obj, rss, pods, time.time())
        if d.spec.paused:
            new = self._find_new(ctx)
            return await self._sync_status(ctx, new)
        if d.spec.strategy.type == "Recreate":
            return await self._recreate(ctx)
        return await self._rolling(ctx)

    async def _claim(self, d_obj: api_pb2.Object, selector: Any) -> list[api_pb2.Object]:
        d = d_obj.deployment
        out: list[api_pb2.Object] = []
        for o in self.rs.by_index("rs-namespace", d.metadata.namespace):
            rs = o.replica_set
            ref = podutil.controller_ref(rs.metadata)
            matches = selector.matches(rs.metadata.labels)
            if ref is not None and ref.uid == d.metadata.uid:
                if matches:
                    out.append(o)
                else:  # release
                    try:
                        cur = await self.registry.get("replicasets", rs.metadata.namespace,
                                                      rs.metadata.name)
                        refs = [r for r in cur.replica_set.metadata.owner_references
                                if r.uid != d.metadata.uid]
                        del cur.replica_set.metadata.owner_references[:]
                        cur.replica_set.metadata.owner_references.extend(refs)
                        await self.registry.update(cur)
                    except (errors.NotFound, errors.Conflict):
                        pass
            elif ref is None and matches and not rs.metadata.HasField("deletion_timestamp"):
                try:
                    cur = await self.registry.get("replicasets", rs.metadata.namespace,
                                                  rs.metadata.name)
                    if podutil.controller_ref(cur.replica_set.metadata) is None:
                        cur.replica_set.metadata.owner_references.append(
                            podutil.owner_ref_to(d_obj))
                        out.append(await self.registry.update(cur))
                except (errors.NotFound, errors.Conflict):
                    pass
        return out

    def _find_new(self, ctx: _Ctx) -> api_pb2.Object | None:
        d = ctx.d
        h = template_hash(d.spec.template, d.status.collision_count)
        cands = [o for o in ctx.rss
                 if o.replica_set.metadata.labels.get(HASH_LABEL) == h
                 or templates_equal(o.replica_set.spec.template, d.spec.template)]
        cands.sort(key=lambda o: _created(o.replica_set))
        return cands[0] if cands else None

    def _olds(self, ctx: _Ctx, new: api_pb2.Object | None) -> list[api_pb2.Object]:
        nuid = new.replica_set.metadata.uid if new is not None else ""
        olds = [o for o in ctx.rss if o.replica_set.metadata.uid != nuid]
        olds.sort(key=lambda o: _created(o.replica_set))
        return olds

    async def _get_new(self, ctx: _Ctx, create: bool, replicas: int) -> api_pb2.Object | None:
        d = ctx.d
        new = self._find_new(ctx)
        olds = self._olds(ctx, new)
        new_rev = max((revision(o.replica_set) for o in olds), default=0) + 1
        if new is not None:
            if revision(new.replica_set) < new_rev:
                upd = copy_of(new)
                upd.replica_set.metadata.annotations[REVISION] = str(new_rev)
                new = await self.registry.update(upd)
                assert new is not None
                ctx.replace(new)
                ctx.progressed = True
            await self._set_d_revision(ctx, revision(new.replica_set))
            return new
        if not create:
            return None
        h = template_hash(d.spec.template, d.status.collision_count)
        rs = apps_pb2.ReplicaSet(api_version="apps/v1", kind="ReplicaSet")
        rs.metadata.name = f"{d.metadata.name}-{h}"
        rs.metadata.namespace = d.metadata.namespace
        rs.metadata.labels.update(d.spec.template.metadata.labels)
        rs.metadata.labels[HASH_LABEL] = h
        rs.metadata.annotations[REVISION] = str(new_rev)
        rs.metadata.owner_references.append(podutil.owner_ref_to(ctx.d_obj))
        rs.spec.replicas = replicas
        rs.spec.min_ready_seconds = d.spec.min_ready_seconds
        rs.spec.selector.CopyFrom(d.spec.selector)
        rs.spec.selector.match_labels[HASH_LABEL] = h
        rs.spec.template.CopyFrom(d.spec.template)
        rs.spec.template.metadata.labels[HASH_LABEL] = h
        try:
            created = await self.registry.create(api_pb2.Object(replica_set=rs))
        except errors.AlreadyExists:
            cur = await self.registry.get("replicasets", rs.metadata.namespace, rs.metadata.name)
            ref = podutil.controller_ref(cur.replica_set.metadata)
            if ref is not None and ref.uid == d.metadata.uid and \
                    templates_equal(cur.replica_set.spec.template, d.spec.template):
                ctx.rss.append(cur)
                return cur
            # hash collision: bump collisionCount and try again with a new name
            st = copy_of(ctx.d_obj)
            st.deployment.status.collision_count = d.status.collision_count + 1
            await self.registry.update_status(st)
            raise errors.Conflict(f"replicaset {rs.metadata.name} exists: hash collision") \
                from None
        self.recorder.record(ctx.d_obj, events.NORMAL, "ScalingReplicaSet",
                             f"Scaled up replica set {rs.metadata.name} to {replicas}")
        ctx.rss.append(created)
        ctx.created_new = True
        ctx.progressed = True
        await self._set_d_revision(ctx, new_rev)
        return created

    async def _set_d_revision(self, ctx: _Ctx, rev: int) -> None:
        if ctx.d.metadata.annotations.get(REVISION) == str(rev):
            return
        upd = copy_of(ctx.d_obj)
        upd.deployment.metadata.annotations[REVISION] = str(rev)
        ctx.d_obj = await self.registry.update(upd)
        ctx.d = ctx.d_obj.deployment

    async def _scale(self, ctx: _Ctx, o: api_pb2.Object, n: int) -> api_pb2.Object:
        rs = o.replica_set
        if rollout.replicas_of(rs) == n:
            return o
        upd = copy_of(o)
        upd.replica_set.spec.replicas = n
        out: api_pb2.Object = await self.registry.update(upd)
        ctx.replace(out)
        ctx.progressed = True
        verb = "up" if n > rollout.replicas_of(rs) else "down"
        self.recorder.record(ctx.d_obj, events.NORMAL, "ScalingReplicaSet",
                             f"Scaled {verb} replica set {rs.metadata.name} to {n}")
        return out

    # ---- strategies --------------------------------------------------------
    async def _rolling(self, ctx: _Ctx) -> Result:
        d = ctx.d
        desired = rollout.replicas_of(d)
        surge, unavailable = rollout.deployment_fenceposts(d)
        existing = self._find_new(ctx)
        if existing is None:
            olds = self._olds(ctx, None)
            total = sum(ctx.count(o.replica_set) for o in olds)
            first = rollout.new_rs_replicas(desired, surge, total, 0) if olds else desired
            new = await self._get_new(ctx, True, first)
            assert new is not None
            return await self._sync_status(ctx, new)
        new = await self._get_new(ctx, True, 0)
        assert new is not None
        olds = self._olds(ctx, new)
        # 1. scale the new RS up (or down to desired)
        n_rs = new.replica_set
        cur_new = rollout.replicas_of(n_rs)
        if cur_new > desired:
            await self._scale(ctx, new, desired)
            return await self._sync_status(ctx, self._find_new(ctx))
        total = sum(ctx.count(o.replica_set) for o in ctx.rss)
        want = rollout.new_rs_replicas(desired, surge, total, cur_new)
        if want != cur_new:
            await self._scale(ctx, new, want)
            return await self._sync_status(ctx, self._find_new(ctx))
        # 2. scale old RSs down as far as availability allows
        if any(ctx.count(o.replica_set) for o in olds):
            plan = rollout.plan_old_scale_down(
                desired, unavailable, cur_new, ctx.available(n_rs),
                [(rollout.replicas_of(o.replica_set), ctx.available(o.replica_set))
                 for o in olds])
            changed = False
            for o, n in zip(olds, plan, strict=True):
                if n != rollout.replicas_of(o.replica_set):
                    await self._scale(ctx, o, n)
                    changed = True
            if changed:
                return await self._sync_status(ctx, self._find_new(ctx))
        # 3. complete: clean up history
        if self._complete(ctx, new):
            await self._cleanup(ctx, new)
        return await self._sync_status(ctx, new)

    async def _recreate(self, ctx: _Ctx) -> Result:
        desired = rollout.replicas_of(ctx.d)
        new = self._find_new(ctx)
        olds = self._olds(ctx, new)
        scaled = False
        for o in olds:
            if rollout.replicas_of(o.replica_set) != 0:
                await self._scale(ctx, o, 0)
                scaled = True
        if scaled:
            return await self._sync_status(ctx, new)
        if any(ctx.pods.get(o.replica_set.metadata.uid) for o in olds):
            return await self._sync_status(ctx, new)  # wait for old pods to be gone
        if new is None:
            new = await self._get_new(ctx, True, desired)
        else:
            new = await self._get_new(ctx, False, desired)
            assert new is not None
            new = await self._scale(ctx, new, desired)
        assert new is not None
        if self._complete(ctx, new):
            await self._cleanup(ctx, new)
        return await self._sync_status(ctx, new)

    def _complete(self, ctx: _Ctx, new: api_pb2.Object) -> bool:
        desired = rollout.replicas_of(ctx.d)
        rs = new.replica_set
        olds = self._olds(ctx, new)
        return (rollout.replicas_of(rs) == desired and ctx.available(rs) >= desired
                and len(ctx.active_pods(rs)) == desired
                and all(ctx.count(o.replica_set) == 0 for o in olds))

    async def _cleanup(self, ctx: _Ctx, new: api_pb2.Object) -> None:
        d = ctx.d
        limit = d.spec.revision_history_limit if d.spec.HasField("revision_history_limit") \
            else DEFAULT_HISTORY
        olds = [o for o in self._olds(ctx, new)
                if rollout.replicas_of(o.replica_set) == 0 and o.replica_set.status.replicas == 0
                and not o.replica_set.metadata.HasField("deletion_timestamp")
                and not ctx.pods.get(o.replica_set.metadata.uid)]
        if len(olds) <= limit:
            return
        olds.sort(key=lambda o: (revision(o.replica_set), _created(o.replica_set)))
        for o in olds[:len(olds) - limit]:
            m = o.replica_set.metadata
            try:
                await self.registry.delete("replicasets", m.namespace, m.name,
                                           resource_version=m.resource_version)
            except (errors.NotFound, errors.Conflict):
                pass

    # ---- status ------------------------------------------------------------
    async def _sync_status(self, ctx: _Ctx, new: api_pb2.Object | None) -> Result:
        d = ctx.d
        desired = rollout.replicas_of(d)
        _, unavailable = rollout.deployment_fenceposts(d)
        rss = [o.replica_set for o in ctx.rss]
        st = apps_pb2.DeploymentStatus()
        st.CopyFrom(d.status)
        old_status = apps_pb2.DeploymentStatus()
        old_status.CopyFrom(d.status)
        st.observed_generation = d.metadata.generation
        st.replicas = sum(len(ctx.active_pods(rs)) for rs in rss)
        st.updated_replicas = len(ctx.active_pods(new.replica_set)) if new is not None else 0
        st.ready_replicas = sum(sum(1 for p in ctx.active_pods(rs) if podutil.is_ready(p))
                                for rs in rss)
        st.available_replicas = sum(ctx.available(rs) for rs in rss)
        st.unavailable_replicas = max(desired - st.available_replicas, 0)
        if st.available_replicas >= desired - unavailable:
            _set_cond(st, "Available", "True", "MinimumReplicasAvailable",
                      "Deployment has minimum availability.", bump_update=False)
        else:
            _set_cond(st, "Available", "False", "MinimumReplicasUnavailable",
                      "Deployment does not have minimum availability.", bump_update=False)
        res = DONE
        deadline = d.spec.progress_deadline_seconds if d.spec.HasField(
            "progress_deadline_seconds") else DEFAULT_DEADLINE
        name = new.replica_set.metadata.name if new is not None else ""
        prog = _cond(st, "Progressing")
        if d.spec.paused:
            _set_cond(st, "Progressing", "Unknown", "DeploymentPaused",
                      "Deployment is paused", bump_update=False)
        elif new is not None and self._complete(ctx, new):
            _set_cond(st, "Progressing", "True", "NewReplicaSetAvailable",
                      f'ReplicaSet "{name}" has successfully progressed.',
                      bump_update=prog is None or prog.reason != "NewReplicaSetAvailable")
        elif ctx.created_new:
            _set_cond(st, "Progressing", "True", "NewReplicaSetCreated",
                      f'Created new replica set "{name}"')
        elif ctx.progressed or prog is None or prog.reason in (
                "NewReplicaSetAvailable", "DeploymentPaused") or (
                st.updated_replicas > old_status.updated_replicas
                or st.ready_replicas > old_status.ready_replicas
                or st.available_replicas > old_status.available_replicas):
            _set_cond(st, "Progressing", "True", "ReplicaSetUpdated",
                      f'ReplicaSet "{name}" is progressing.')
        elif prog.reason != "ProgressDeadlineExceeded":
            since = podutil.ts_seconds(prog.last_update_time)
            left = since + deadline - ctx.now
            if left <= 0:
                _set_cond(st, "Progressing", "False", "ProgressDeadlineExceeded",
                          f'ReplicaSet "{name}" has timed out progressing.')
                self.recorder.record(ctx.d_obj, events.WARNING, "ProgressDeadlineExceeded",
                                     f'ReplicaSet "{name}" has timed out progressing.')
        prog = _cond(st, "Progressing")
        if prog is not None and prog.status == "True" and \
                prog.reason != "NewReplicaSetAvailable":
            left = podutil.ts_seconds(prog.last_update_time) + deadline - ctx.now
            res = Result(requeue_after=max(left, 0.0) + 0.05)
        mrs = d.spec.min_ready_seconds
        waits = [w for rs in rss for p in ctx.active_pods(rs)
                 if (w := podutil.available_in(p, mrs, ctx.now)) is not None]
        if waits:
            w = min(waits) + 0.05
            res = Result(requeue_after=min(w, res.requeue_after or w))
        if _same_status(st, old_status) and not ctx.progressed:
            return res
        upd = copy_of(ctx.d_obj)
        upd.deployment.status.CopyFrom(st)
        try:
            await self.registry.update_status(upd)
        except errors.NotFound:
            return DONE
        return res


def _same_status(a: apps_pb2.DeploymentStatus, b: apps_pb2.DeploymentStatus) -> bool:
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


def _pod_ctrl_uid(o: api_pb2.Object) -> list[str]:
    ref = podutil.controller_ref(o.pod.metadata)
    return [ref.uid] if ref is not None and ref.kind == "ReplicaSet" else []


__all__ = ["HASH_LABEL", "REVISION", "DeploymentController", "meta_pb2", "template_hash"]
