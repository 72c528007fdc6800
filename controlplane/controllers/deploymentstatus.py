"""The Deployment's status: replica counts and the Available / Progressing
conditions (with progressDeadlineSeconds), from one reconcile's view."""

from __future__ import annotations

from controlplane import errors, events
from controlplane.client import Client
from controlplane.objects import copy_of, ts_seconds
from proto import api_pb2, apps_pb2

from . import podutil, rollout
from .base import DONE, Result
from .deploymentutil import DEFAULT_DEADLINE, Ctx, complete, cond, same_status, set_cond


async def sync_status(client: Client, recorder: events.EventRecorder, ctx: Ctx,
                      new: api_pb2.Object | None) -> Result:
    """Compute the Deployment's status and conditions from `ctx`; write it if it changed.
    The Result says when to look again (progress deadline, minReadySeconds)."""
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
        set_cond(st, "Available", "True", "MinimumReplicasAvailable",
                  "Deployment has minimum availability.", bump_update=False)
    else:
        set_cond(st, "Available", "False", "MinimumReplicasUnavailable",
                  "Deployment does not have minimum availability.", bump_update=False)
    res = DONE
    deadline = d.spec.progress_deadline_seconds if d.spec.HasField(
        "progress_deadline_seconds") else DEFAULT_DEADLINE
    name = new.replica_set.metadata.name if new is not None else ""
    prog = cond(st, "Progressing")
    if d.spec.paused:
        set_cond(st, "Progressing", "Unknown", "DeploymentPaused",
                  "Deployment is paused", bump_update=False)
    elif new is not None and complete(ctx, new):
        set_cond(st, "Progressing", "True", "NewReplicaSetAvailable",
                  f'ReplicaSet "{name}" has successfully progressed.',
                  bump_update=prog is None or prog.reason != "NewReplicaSetAvailable")
    elif ctx.created_new:
        set_cond(st, "Progressing", "True", "NewReplicaSetCreated",
                  f'Created new replica set "{name}"')
    elif ctx.progressed or prog is None or prog.reason in (
            "NewReplicaSetAvailable", "DeploymentPaused") or (
            st.updated_replicas > old_status.updated_replicas
            or st.ready_replicas > old_status.ready_replicas
            or st.available_replicas > old_status.available_replicas):
        set_cond(st, "Progressing", "True", "ReplicaSetUpdated",
                  f'ReplicaSet "{name}" is progressing.')
    elif prog.reason != "ProgressDeadlineExceeded":
        since = ts_seconds(prog.last_update_time)
        left = since + deadline - ctx.now
        if left <= 0:
            set_cond(st, "Progressing", "False", "ProgressDeadlineExceeded",
                      f'ReplicaSet "{name}" has timed out progressing.')
            recorder.record(ctx.d_obj, events.WARNING, "ProgressDeadlineExceeded",
                                 f'ReplicaSet "{name}" has timed out progressing.')
    prog = cond(st, "Progressing")
    if prog is not None and prog.status == "True" and \
            prog.reason != "NewReplicaSetAvailable":
        left = ts_seconds(prog.last_update_time) + deadline - ctx.now
        res = Result(requeue_after=max(left, 0.0) + 0.05)
    mrs = d.spec.min_ready_seconds
    waits = [w for rs in rss for p in ctx.active_pods(rs)
             if (w := podutil.available_in(p, mrs, ctx.now)) is not None]
    if waits:
        w = min(waits) + 0.05
        res = Result(requeue_after=min(w, res.requeue_after or w))
    if same_status(st, old_status) and not ctx.progressed:
        return res
    upd = copy_of(ctx.d_obj)
    upd.deployment.status.CopyFrom(st)
    try:
        await client.update_status(upd)
    except errors.NotFound:
        return DONE
    return res
