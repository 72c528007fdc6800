"""Job controller (batch/v1): run pods of a template until enough succeed.

* NonIndexed: `completions` successes (without completions: the first success, then
  no new pods), at most `parallelism` pods at once. Indexed: one success per index
  0..completions-1; a pod gets its index as the annotation and label
  `batch.kubernetes.io/job-completion-index`, env JOB_COMPLETION_INDEX and the
  hostname `<job>-<index>`.
* Failures: a failed pod (restartPolicy Never) is replaced after an exponential
  back-off (the profile's restart back-off: 10 s doubling to 300 s by default, as
  Kubernetes' 10 s to 6 min) rebuilt from the pods, so a restart keeps it; with
  OnFailure the node restarts the containers and their restarts count. More than
  `backoffLimit` failures: Failed, BackoffLimitExceeded. `podFailurePolicy` rules
  (FailJob, Ignore, Count on exit codes or pod conditions) are matched in order:
  FailJob fails the Job at once (reason PodFailurePolicy), Ignore does not count.
* `activeDeadlineSeconds` after the start: Failed, DeadlineExceeded. A failing Job
  gets FailureTarget first, its pods are deleted, then Failed.
* Done: Complete (reason CompletionsReached) and completionTime; remaining pods are
  deleted. `ttlSecondsAfterFinished` later the Job is deleted (in the foreground).
* `suspend`: pods deleted, condition Suspended; resuming restarts the clock.
* Counting survives restarts: jobtracking.py. Creations wait to be observed
  (expectations), so a burst or a restart never runs more than `parallelism`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from controlplane import errors, events
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.objects import now_ts, ts_seconds
from controlplane.profiles import DEFAULT, Profile
from proto import api_pb2, batch_pb2, core_pb2
from proto.labels import from_label_selector

from . import jobtracking as tracking
from . import podutil
from .base import DONE, Controller, Result
from .jobutil import (
    PodsView,
    backoff_until,
    complete,
    failure_of,
    finished,
    index_of,
    indexed,
    is_true,
    new_pod,
    parallelism,
    parse_indexes,
    set_condition,
    uncounted,
    victims,
)
from .ownership import claim, selecting
from .podcontrol import PodControl

log = logging.getLogger(__name__)

ORPHAN = "orphan|"      # the key of a tracked pod no Job owns any more


def _owner_key(pod: core_pb2.Pod) -> str | None:
    ref = podutil.controller_ref(pod.metadata)
    if ref is None or ref.kind != "Job":
        return None
    return f"{pod.metadata.namespace}/{ref.name}"


class JobController(Controller):
    name = "job"
    workers = 4

    def __init__(self, client: Client, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None, profile: Profile = DEFAULT,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(backoff_initial=profile.workqueue_backoff_initial,
                         backoff_max=profile.workqueue_backoff_max)
        self.client = client
        self.profile = profile
        self.clock = clock
        self.recorder = recorder or events.EventRecorder(client, "job-controller")
        self.expectations = podutil.Expectations()
        self.podcontrol = PodControl(client, self.recorder, self.expectations, "job")
        self.jobs = factory.informer("jobs")
        self.pods = factory.informer("pods")
        self.pods.add_indexer("namespace", lambda o: [o.pod.metadata.namespace])
        self.pods.add_indexer("job", lambda o: [k] if (k := _owner_key(o.pod)) else [])
        self.jobs.add_handler(Handler(self._job, lambda o, n: self._job(n), self._job))
        self.pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_deleted))

    async def wait_synced(self) -> None:
        await asyncio.gather(self.jobs.wait_synced(), self.pods.wait_synced())

    # ---- handlers ----------------------------------------------------------
    def _job(self, o: api_pb2.Object) -> None:
        self.enqueue(f"{o.job.metadata.namespace}/{o.job.metadata.name}")

    def _pod_added(self, o: api_pb2.Object) -> None:
        key = _owner_key(o.pod)
        if key is None and tracking.tracked(o.pod):   # orphaned (Orphan propagation): let go
            self.enqueue(f"{ORPHAN}{o.pod.metadata.namespace}/{o.pod.metadata.name}")
        if key is not None:
            self.expectations.creation_observed(key)
            self.enqueue(key)
        elif podutil.controller_ref(o.pod.metadata) is None:
            for k in selecting(self.jobs.list(), o, lambda j: j.job.spec.selector):
                self.enqueue(k)

    def _pod_updated(self, old: api_pb2.Object, new: api_pb2.Object) -> None:
        key = _owner_key(new.pod)
        m = new.pod.metadata
        if key is None and tracking.tracked(new.pod):
            self.enqueue(f"{ORPHAN}{m.namespace}/{m.name}")
        if key is not None and m.HasField("deletion_timestamp") and \
                not old.pod.metadata.HasField("deletion_timestamp"):
            self.expectations.deletion_observed(key, f"{m.namespace}/{m.name}")
        old_key = _owner_key(old.pod)
        for k in {key, old_key} - {None}:
            assert k is not None
            self.enqueue(k)
        if key is None and old_key is None:
            self._pod_added(new)

    def _pod_deleted(self, o: api_pb2.Object) -> None:
        key = _owner_key(o.pod)
        if key is not None:
            m = o.pod.metadata
            self.expectations.deletion_observed(key, f"{m.namespace}/{m.name}")
            self.enqueue(key)

    # ---- reconcile ---------------------------------------------------------
    async def reconcile(self, key: str) -> Result:
        if key.startswith(ORPHAN):
            pod = self.pods.get(key.removeprefix(ORPHAN))
            if pod is not None and _owner_key(pod.pod) is None and tracking.tracked(pod.pod):
                await tracking.release(self.client, [pod.pod])
            return DONE
        obj = self.jobs.get(key)
        if obj is None or obj.job.metadata.HasField("deletion_timestamp"):
            # the Job is gone (or going): its pods are let go uncounted
            if obj is None:
                self.expectations.delete(key)
            await tracking.release(self.client, [p.pod for p in self.pods.by_index("job", key)
                                                 if tracking.tracked(p.pod)])
            return DONE
        job = obj.job
        # expectations first, the cache after (Kubernetes' syncJob does the same): once
        # they are met, every pod this controller created is in the cache read below.
        # Checked later, a creation observed during this pass's awaits would satisfy
        # them while `view` still lacks that pod, and _manage would create it again.
        satisfied = self.expectations.satisfied(key)
        owned = await claim(self.client, "pods", obj, from_label_selector(job.spec.selector),
                            self.pods.by_index("namespace", job.metadata.namespace),
                            adoptable=lambda p: podutil.is_active(p.pod))
        pods = [p.pod for p in owned]
        view = PodsView.of(pods)
        st = batch_pb2.JobStatus()
        st.CopyFrom(job.status)
        # count what finished (jobtracking.py): uncounted first, then finalizers, then counts
        verdict = tracking.record_finished(job, st, view.succeeded, view.failed)
        if st != job.status:
            obj = await tracking.write_status(self.client, obj, st)
        un = st.uncounted_terminated_pods
        await tracking.release(self.client, [p for p in [*view.succeeded, *view.failed]
                                             if p.metadata.uid in {*un.succeeded, *un.failed}]
                               + verdict.ignored)
        tracking.count_released(job, st, {p.metadata.uid: p for p in pods})
        if finished(job.status):
            await tracking.release(self.client, [p for p in pods if tracking.tracked(p)])
            left = self._ttl_left(obj.job, st)
            if left is not None and left <= 0:
                await self._expire(obj)
                return DONE
            return await self._write(obj, st, DONE if left is None
                                     else Result(requeue_after=left + 0.05))
        return await self._sync(key, obj, st, view, verdict, satisfied)

    async def _sync(self, key: str, obj: api_pb2.Object, st: batch_pb2.JobStatus,
                    view: PodsView, verdict: tracking.Tracking, satisfied: bool) -> Result:
        job = obj.job
        now = self.clock()
        res = DONE
        if job.spec.suspend:
            await self.podcontrol.delete(obj, key, view.active)
            if set_condition(st, "Suspended", "True", "JobSuspended", "Job suspended"):
                self.recorder.record(obj, events.NORMAL, "Suspended", "Job suspended")
            return await self._write(obj, st, DONE, view)
        if is_true(st, "Suspended"):
            set_condition(st, "Suspended", "False", "JobResumed", "Job resumed")
            self.recorder.record(obj, events.NORMAL, "Resumed", "Job resumed")
            st.start_time.CopyFrom(now_ts())
        if not st.HasField("start_time"):
            st.start_time.CopyFrom(now_ts())
        failure = failure_of(job, st, view.active, verdict.fail_job, now)
        if failure is not None:
            reason, message = failure
            if set_condition(st, "FailureTarget", "True", reason, message):
                self.recorder.record(obj, events.WARNING, reason, message)
            await self.podcontrol.delete(obj, key, view.active)
            if not view.active and not view.terminating and not uncounted(st):
                set_condition(st, "Failed", "True", reason, message)
            return await self._write(obj, st, DONE, view)
        if complete(job, st):
            await self.podcontrol.delete(obj, key, view.active)
            if not view.active and not uncounted(st):
                set_condition(st, "Complete", "True", "CompletionsReached",
                              "Reached expected number of succeeded pods")
                st.completion_time.CopyFrom(now_ts())
                self.recorder.record(obj, events.NORMAL, "Completed", "Job completed")
                res = Result(requeue_after=0.05)
            return await self._write(obj, st, res, view)
        if job.spec.HasField("active_deadline_seconds"):
            left = ts_seconds(st.start_time) + job.spec.active_deadline_seconds - now
            res = Result(requeue_after=max(left, 0.0) + 0.05)
        if satisfied:
            wait = await self._manage(obj, key, st, view, now)
            if wait is not None:
                res = Result(requeue_after=min(wait, res.requeue_after or wait))
        return await self._write(obj, st, res, view)

    async def _manage(self, obj: api_pb2.Object, key: str, st: batch_pb2.JobStatus,
                      view: PodsView, now: float) -> float | None:
        """Create or delete pods toward the wanted number; seconds to wait (back-off)."""
        job = obj.job
        want = parallelism(job)
        todo: list[int | None]
        if indexed(job):
            running = {index_of(p) for p in view.active}
            done = parse_indexes(st.completed_indexes)
            todo = [i for i in range(job.spec.completions) if i not in done | running]
            want = min(want, len(todo) + len(view.active))
        else:
            succeeded = st.succeeded + len(st.uncounted_terminated_pods.succeeded)
            left = (job.spec.completions - succeeded if job.spec.HasField("completions")
                    else (0 if succeeded else want))
            want = min(want, max(left, 0))
            todo = [None] * max(want - len(view.active), 0)
        if len(view.active) > want:
            await self.podcontrol.delete(obj, key, victims(view.active, len(view.active) - want))
            return None
        n = min(want - len(view.active), len(todo))
        if n <= 0:
            return None
        prof = self.profile
        until = backoff_until([p for p in view.failed if p.status.phase == "Failed"],
                              view.succeeded, prof.restart_backoff_initial,
                              prof.restart_backoff_max)
        if now < until:
            return until - now
        await self.podcontrol.create(obj, key, (new_pod(obj, i) for i in todo[:n]))
        return None

    def _ttl_left(self, job: batch_pb2.Job, st: batch_pb2.JobStatus) -> float | None:
        """Seconds until ttlSecondsAfterFinished runs out (None: no TTL, or not finished)."""
        if not job.spec.HasField("ttl_seconds_after_finished"):
            return None
        ends = [ts_seconds(c.last_transition_time) for c in st.conditions
                if c.type in ("Complete", "Failed") and c.status == "True"]
        if not ends:
            return None
        return ends[0] + job.spec.ttl_seconds_after_finished - self.clock()

    async def _write(self, obj: api_pb2.Object, st: batch_pb2.JobStatus, res: Result,
                     view: PodsView | None = None) -> Result:
        if view is not None:
            st.active = len(view.active)
            st.ready = sum(1 for p in view.active if podutil.is_ready(p))
            st.terminating = view.terminating
        if st != obj.job.status:
            try:
                await tracking.write_status(self.client, obj, st)
            except errors.NotFound:
                return DONE
        return res

    async def _expire(self, obj: api_pb2.Object) -> None:
        """ttlSecondsAfterFinished passed: delete the Job and its pods (foreground)."""
        m = obj.job.metadata
        try:
            await self.client.delete("jobs", m.namespace, m.name, propagation_policy="Foreground",
                                     resource_version=m.resource_version)
        except (errors.NotFound, errors.Conflict):
            pass
