"""Counting a Job's finished pods so that nothing is lost or counted twice, across
control plane restarts (Kubernetes' job tracking with finalizers).

Every pod of a Job carries the finalizer `batch.kubernetes.io/job-tracking`, so it
cannot disappear before it was counted. A pass:

1. the Job's status records the newly finished pods' uids in
   `uncountedTerminatedPods` (and, Indexed, their indexes in `completedIndexes`), and
   which pod failure policy rule they matched: written first;
2. their finalizers are removed;
3. the uids whose pods no longer carry the finalizer (or are gone) move from
   `uncountedTerminatedPods` to `succeeded` / `failed`: written.

A restart between any two steps repeats the rest: a uid in the uncounted list is
counted exactly once (when it leaves the list); a finished pod without the finalizer
and not in the list was counted before. Failed pods the policy Ignores are not
counted, only let go.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from controlplane import errors
from controlplane.client import Client
from controlplane.objects import copy_of
from proto import api_pb2, batch_pb2, core_pb2

from .jobutil import (
    TRACKING_FINALIZER,
    PolicyMatch,
    format_indexes,
    index_of,
    indexed,
    match_failure_policy,
    parse_indexes,
)


def tracked(pod: core_pb2.Pod) -> bool:
    return TRACKING_FINALIZER in pod.metadata.finalizers


@dataclass
class Tracking:
    """What one pass found: the failure policy's verdict on the newly failed pods."""

    fail_job: PolicyMatch | None = None
    ignored: list[core_pb2.Pod] = field(default_factory=list)


def record_finished(job: batch_pb2.Job, st: batch_pb2.JobStatus, succeeded: list[core_pb2.Pod],
                    failed: list[core_pb2.Pod]) -> Tracking:
    """Step 1 on `st` (in place): the finished pods that still carry the finalizer and
    are not yet in the uncounted list go there."""
    out = Tracking()
    un = st.uncounted_terminated_pods
    known = set(un.succeeded) | set(un.failed)
    completed = parse_indexes(st.completed_indexes)
    for p in succeeded:
        if tracked(p) and p.metadata.uid not in known:
            un.succeeded.append(p.metadata.uid)
            i = index_of(p)
            if indexed(job) and i is not None and i < job.spec.completions:
                completed.add(i)
    for p in failed:
        if not tracked(p) or p.metadata.uid in known:
            continue
        match = match_failure_policy(job, p) if p.status.phase == "Failed" else None
        if match is not None and match.action == "Ignore":
            out.ignored.append(p)
            continue
        if match is not None and match.action == "FailJob" and out.fail_job is None:
            out.fail_job = match
        un.failed.append(p.metadata.uid)
    if indexed(job):
        st.completed_indexes = format_indexes(completed)
    return out


def count_released(job: batch_pb2.Job, st: batch_pb2.JobStatus,
                   pods: dict[str, core_pb2.Pod]) -> None:
    """Step 3 on `st` (in place): uids whose pods let go of the finalizer are counted."""
    un = st.uncounted_terminated_pods
    for name in ("succeeded", "failed"):
        uids = getattr(un, name)
        kept = [u for u in uids if u in pods and tracked(pods[u])]
        released = len(uids) - len(kept)
        if name == "failed":
            st.failed += released
        elif not indexed(job):
            st.succeeded += released
        del uids[:]
        uids.extend(kept)
    if indexed(job):
        st.succeeded = len(parse_indexes(st.completed_indexes))


async def release(client: Client, pods: list[core_pb2.Pod]) -> None:
    """Step 2: remove the tracking finalizer (a pod gone or changed meanwhile is looked
    at again by the next pass)."""
    async def one(p: core_pb2.Pod) -> None:
        for _ in range(3):
            try:
                cur = await client.get("pods", p.metadata.namespace, p.metadata.name)
            except errors.NotFound:
                return
            if not tracked(cur.pod):
                return
            upd = copy_of(cur)
            kept = [f for f in upd.pod.metadata.finalizers if f != TRACKING_FINALIZER]
            del upd.pod.metadata.finalizers[:]
            upd.pod.metadata.finalizers.extend(kept)
            try:
                await client.update(upd)
                return
            except errors.Conflict:
                continue
            except errors.NotFound:
                return

    await asyncio.gather(*(one(p) for p in pods))


async def write_status(client: Client, obj: api_pb2.Object, st: batch_pb2.JobStatus
                       ) -> api_pb2.Object:
    upd = copy_of(obj)
    upd.job.status.CopyFrom(st)
    return await client.update_status(upd)
