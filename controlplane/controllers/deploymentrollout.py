"""How the deployment controller moves a Deployment to its template: the new
ReplicaSet (created or re-used, with its revision), RollingUpdate (maxSurge /
maxUnavailable) and Recreate, and the history cleanup."""

from __future__ import annotations

from controlplane import errors, events
from controlplane.client import Client
from controlplane.objects import copy_of, owner_ref_to
from proto import api_pb2, apps_pb2

from . import podutil, rollout
from .base import Result
from .deploymentstatus import sync_status
from .deploymentutil import (
    DEFAULT_HISTORY,
    HASH_LABEL,
    REVISION,
    Ctx,
    complete,
    created_key,
    find_new,
    old_sets,
    revision,
    template_hash,
    templates_equal,
)


class Rollout:
    def __init__(self, client: Client, recorder: events.EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def status(self, ctx: Ctx, new: api_pb2.Object | None) -> Result:
        return await sync_status(self.client, self.recorder, ctx, new)

    async def get_new(self, ctx: Ctx, create: bool, replicas: int) -> api_pb2.Object | None:
        d = ctx.d
        new = find_new(ctx)
        olds = old_sets(ctx, new)
        new_rev = max((revision(o.replica_set) for o in olds), default=0) + 1
        if new is not None:
            if revision(new.replica_set) < new_rev:
                upd = copy_of(new)
                upd.replica_set.metadata.annotations[REVISION] = str(new_rev)
                new = await self.client.update(upd)
                assert new is not None
                ctx.replace(new)
                ctx.progressed = True
            await self.set_d_revision(ctx, revision(new.replica_set))
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
        rs.metadata.owner_references.append(owner_ref_to(ctx.d_obj))
        rs.spec.replicas = replicas
        rs.spec.min_ready_seconds = d.spec.min_ready_seconds
        rs.spec.selector.CopyFrom(d.spec.selector)
        rs.spec.selector.match_labels[HASH_LABEL] = h
        rs.spec.template.CopyFrom(d.spec.template)
        rs.spec.template.metadata.labels[HASH_LABEL] = h
        try:
            created = await self.client.create(api_pb2.Object(replica_set=rs))
        except errors.AlreadyExists:
            cur = await self.client.get("replicasets", rs.metadata.namespace, rs.metadata.name)
            ref = podutil.controller_ref(cur.replica_set.metadata)
            if ref is not None and ref.uid == d.metadata.uid and \
                    templates_equal(cur.replica_set.spec.template, d.spec.template):
                ctx.rss.append(cur)
                return cur
            # hash collision: bump collisionCount and try again with a new name
            st = copy_of(ctx.d_obj)
            st.deployment.status.collision_count = d.status.collision_count + 1
            await self.client.update_status(st)
            raise errors.Conflict(f"replicaset {rs.metadata.name} exists: hash collision") \
                from None
        self.recorder.record(ctx.d_obj, events.NORMAL, "ScalingReplicaSet",
                             f"Scaled up replica set {rs.metadata.name} to {replicas}")
        ctx.rss.append(created)
        ctx.created_new = True
        ctx.progressed = True
        await self.set_d_revision(ctx, new_rev)
        return created

    async def set_d_revision(self, ctx: Ctx, rev: int) -> None:
        if ctx.d.metadata.annotations.get(REVISION) == str(rev):
            return
        upd = copy_of(ctx.d_obj)
        upd.deployment.metadata.annotations[REVISION] = str(rev)
        ctx.d_obj = await self.client.update(upd)
        ctx.d = ctx.d_obj.deployment

    async def scale(self, ctx: Ctx, o: api_pb2.Object, n: int) -> api_pb2.Object:
        rs = o.replica_set
        if rollout.replicas_of(rs) == n:
            return o
        upd = copy_of(o)
        upd.replica_set.spec.replicas = n
        out: api_pb2.Object = await self.client.update(upd)
        ctx.replace(out)
        ctx.progressed = True
        verb = "up" if n > rollout.replicas_of(rs) else "down"
        self.recorder.record(ctx.d_obj, events.NORMAL, "ScalingReplicaSet",
                             f"Scaled {verb} replica set {rs.metadata.name} to {n}")
        return out

    # ---- strategies --------------------------------------------------------
    async def rolling(self, ctx: Ctx) -> Result:
        d = ctx.d
        desired = rollout.replicas_of(d)
        surge, unavailable = rollout.deployment_fenceposts(d)
        existing = find_new(ctx)
        if existing is None:
            olds = old_sets(ctx, None)
            total = sum(ctx.count(o.replica_set) for o in olds)
            first = rollout.new_rs_replicas(desired, surge, total, 0) if olds else desired
            new = await self.get_new(ctx, True, first)
            assert new is not None
            return await self.status(ctx, new)
        new = await self.get_new(ctx, True, 0)
        assert new is not None
        olds = old_sets(ctx, new)
        # 1. scale the new RS up (or down to desired)
        n_rs = new.replica_set
        cur_new = rollout.replicas_of(n_rs)
        if cur_new > desired:
            await self.scale(ctx, new, desired)
            return await self.status(ctx, find_new(ctx))
        total = sum(ctx.count(o.replica_set) for o in ctx.rss)
        want = rollout.new_rs_replicas(desired, surge, total, cur_new)
        if want != cur_new:
            await self.scale(ctx, new, want)
            return await self.status(ctx, find_new(ctx))
        # 2. scale old RSs down as far as availability allows
        if any(ctx.count(o.replica_set) for o in olds):
            plan = rollout.plan_old_scale_down(
                desired, unavailable, cur_new, ctx.available(n_rs),
                [(rollout.replicas_of(o.replica_set), ctx.available(o.replica_set))
                 for o in olds])
            changed = False
            for o, n in zip(olds, plan, strict=True):
                if n != rollout.replicas_of(o.replica_set):
                    await self.scale(ctx, o, n)
                    changed = True
            if changed:
                return await self.status(ctx, find_new(ctx))
        # 3. complete: clean up history
        if complete(ctx, new):
            await self.cleanup(ctx, new)
        return await self.status(ctx, new)

    async def recreate(self, ctx: Ctx) -> Result:
        desired = rollout.replicas_of(ctx.d)
        new = find_new(ctx)
        olds = old_sets(ctx, new)
        scaled = False
        for o in olds:
            if rollout.replicas_of(o.replica_set) != 0:
                await self.scale(ctx, o, 0)
                scaled = True
        if scaled:
            return await self.status(ctx, new)
        if any(ctx.pods.get(o.replica_set.metadata.uid) for o in olds):
            return await self.status(ctx, new)  # wait for old pods to be gone
        if new is None:
            new = await self.get_new(ctx, True, desired)
        else:
            new = await self.get_new(ctx, False, desired)
            assert new is not None
            new = await self.scale(ctx, new, desired)
        assert new is not None
        if complete(ctx, new):
            await self.cleanup(ctx, new)
        return await self.status(ctx, new)

    async def cleanup(self, ctx: Ctx, new: api_pb2.Object) -> None:
        d = ctx.d
        limit = d.spec.revision_history_limit if d.spec.HasField("revision_history_limit") \
            else DEFAULT_HISTORY
        olds = [o for o in old_sets(ctx, new)
                if rollout.replicas_of(o.replica_set) == 0 and o.replica_set.status.replicas == 0
                and not o.replica_set.metadata.HasField("deletion_timestamp")
                and not ctx.pods.get(o.replica_set.metadata.uid)]
        if len(olds) <= limit:
            return
        olds.sort(key=lambda o: (revision(o.replica_set), created_key(o.replica_set)))
        for o in olds[:len(olds) - limit]:
            m = o.replica_set.metadata
            try:
                await self.client.delete("replicasets", m.namespace, m.name,
                                           resource_version=m.resource_version)
            except (errors.NotFound, errors.Conflict):
                pass
