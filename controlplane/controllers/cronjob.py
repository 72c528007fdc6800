"""CronJob controller (batch/v1): a Job per scheduled time, as Kubernetes' cronjob v2
controller does.

Each pass: the status' `active` list is brought in line with the Jobs the CronJob owns
(finished ones leave it, with `lastSuccessfulTime`; missing ones too), finished Jobs
beyond `successfulJobsHistoryLimit` / `failedJobsHistoryLimit` are deleted, and unless
`suspend`, the most recent unmet scheduled time is due (cronjobutil.most_recent):

* none: look again at the next scheduled time;
* older than `startingDeadlineSeconds`: skipped (event MissSchedule);
* more than 100 missed (the control plane was away, or the clock jumped): event
  TooManyMissedTimes, and still one run for the most recent time;
* `concurrencyPolicy` Forbid with a Job active: skipped (event JobAlreadyActive);
  Replace: the active Jobs are deleted first; Allow: runs beside them;
* the Job `<cronjob>-<minutes since the epoch>` is created (a name per scheduled time:
  a restart never creates one twice), then `active` and `lastScheduleTime` written.

The clock is injectable (unit tests move time by hand); times are matched in the
CronJob's `timeZone` (cronschedule.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from controlplane import cronschedule, errors, events
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.objects import copy_of, reference_of
from proto import api_pb2, batch_pb2

from . import podutil
from .base import DONE, Controller, Result
from .cronjobutil import (
    finished_condition,
    history_to_delete,
    job_for,
    job_name,
    most_recent,
    next_after,
    rfc1123,
)

log = logging.getLogger(__name__)


def _owner_key(job: batch_pb2.Job) -> str | None:
    ref = podutil.controller_ref(job.metadata)
    if ref is None or ref.kind != "CronJob":
        return None
    return f"{job.metadata.namespace}/{ref.name}"


def _owner_uid(job: batch_pb2.Job) -> str:
    ref = podutil.controller_ref(job.metadata)
    return ref.uid if ref is not None else ""


class CronJobController(Controller):
    name = "cronjob"
    workers = 2

    def __init__(self, client: Client, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None,
                 clock: Callable[[], float] = time.time,
                 backoff_initial: float = 0.005, backoff_max: float = 5.0) -> None:
        super().__init__(backoff_initial=backoff_initial, backoff_max=backoff_max)
        self.client = client
        self.clock = clock
        self.recorder = recorder or events.EventRecorder(client, "cronjob-controller")
        self.cronjobs = factory.informer("cronjobs")
        self.jobs = factory.informer("jobs")
        self.jobs.add_indexer("cronjob", lambda o: [k] if (k := _owner_key(o.job)) else [])
        self.cronjobs.add_handler(Handler(self._cj, lambda o, n: self._cj(n), None))
        self.jobs.add_handler(Handler(self._job, lambda o, n: self._job(n), self._job))

    async def wait_synced(self) -> None:
        await asyncio.gather(self.cronjobs.wait_synced(), self.jobs.wait_synced())

    def _cj(self, o: api_pb2.Object) -> None:
        self.enqueue(f"{o.cron_job.metadata.namespace}/{o.cron_job.metadata.name}")

    def _job(self, o: api_pb2.Object) -> None:
        key = _owner_key(o.job)
        if key is not None:
            self.enqueue(key)

    async def reconcile(self, key: str) -> Result:
        obj = self.cronjobs.get(key)
        if obj is None or obj.cron_job.metadata.HasField("deletion_timestamp"):
            return DONE
        cj = obj.cron_job
        jobs = [j.job for j in self.jobs.by_index("cronjob", key)
                if _owner_uid(j.job) == cj.metadata.uid]
        st = batch_pb2.CronJobStatus()
        st.CopyFrom(cj.status)
        await self._sync_active(obj, st, jobs)
        await self._cleanup(obj, jobs)
        res = DONE
        if not cj.spec.suspend:
            res = await self._schedule(obj, st)
        if st != cj.status:
            upd = copy_of(obj)
            upd.cron_job.status.CopyFrom(st)
            try:
                await self.client.update_status(upd)
            except errors.NotFound:
                return DONE
        return res

    async def _sync_active(self, obj: api_pb2.Object, st: batch_pb2.CronJobStatus,
                           jobs: list[batch_pb2.Job]) -> None:
        by_uid = {j.metadata.uid: j for j in jobs}
        active = {r.uid for r in st.active}
        for j in jobs:
            done = finished_condition(j)
            if not done and j.metadata.uid not in active:
                st.active.append(reference_of(api_pb2.Object(job=j)))
                self.recorder.record(obj, events.WARNING, "UnexpectedJob",
                                     f"Saw a job that the controller did not create or "
                                     f"forgot: {j.metadata.name}")
            elif done and j.metadata.uid in active:
                self.recorder.record(obj, events.NORMAL, "SawCompletedJob",
                                     f"Saw completed job: {j.metadata.name}, status: {done}")
            if done == "Complete" and j.status.HasField("completion_time") and (
                    not st.HasField("last_successful_time")
                    or st.last_successful_time.ToSeconds() < j.status.completion_time.ToSeconds()):
                st.last_successful_time.CopyFrom(j.status.completion_time)
        keep = []
        for ref in st.active:
            cached = by_uid.get(ref.uid)
            if cached is not None:
                if not finished_condition(cached):
                    keep.append(ref)
                continue
            try:      # not in the cache: make sure it is gone before forgetting it
                live = await self.client.get("jobs", ref.namespace, ref.name)
                if live.job.metadata.uid == ref.uid and not finished_condition(live.job):
                    keep.append(ref)
                    continue
            except errors.NotFound:
                pass
            self.recorder.record(obj, events.NORMAL, "MissingJob",
                                 f"Active job went missing: {ref.name}")
        del st.active[:]
        st.active.extend(keep)

    async def _cleanup(self, obj: api_pb2.Object, jobs: list[batch_pb2.Job]) -> None:
        s = obj.cron_job.spec
        old = (history_to_delete(jobs, "Complete", s.successful_jobs_history_limit
                                 if s.HasField("successful_jobs_history_limit") else 3)
               + history_to_delete(jobs, "Failed", s.failed_jobs_history_limit
                                   if s.HasField("failed_jobs_history_limit") else 1))
        for j in old:
            await self._delete_job(obj, j)

    async def _delete_job(self, obj: api_pb2.Object, j: batch_pb2.Job) -> bool:
        try:
            await self.client.delete("jobs", j.metadata.namespace, j.metadata.name,
                                     propagation_policy="Background")
        except errors.NotFound:
            return True
        except errors.ApiError as e:
            self.recorder.record(obj, events.WARNING, "FailedDelete",
                                 f"Deleted job: {j.metadata.name}: {e}")
            return False
        self.recorder.record(obj, events.NORMAL, "SuccessfulDelete",
                             f"Deleted job {j.metadata.name}")
        return True

    async def _schedule(self, obj: api_pb2.Object, st: batch_pb2.CronJobStatus) -> Result:
        cj = obj.cron_job
        try:
            sched = cronschedule.parse(cj.spec.schedule)
        except cronschedule.CronError as e:
            self.recorder.record(obj, events.WARNING, "UnparseableSchedule",
                                 f"unparseable schedule: {cj.spec.schedule!r} : {e}")
            return DONE
        now = datetime.fromtimestamp(self.clock(), UTC)
        view = batch_pb2.CronJob()
        view.CopyFrom(cj)
        view.status.CopyFrom(st)
        due = most_recent(view, now, sched)
        if due.too_many:
            self.recorder.record(obj, events.WARNING, "TooManyMissedTimes",
                                 "too many missed start times. Set or decrease "
                                 ".spec.startingDeadlineSeconds or check clock skew")
        again = next_after(cj, now, sched)
        res = DONE if again is None else Result(requeue_after=again + 0.1)
        t = due.scheduled
        if t is None:
            return res
        if cj.spec.HasField("starting_deadline_seconds") and \
                (now - t).total_seconds() > cj.spec.starting_deadline_seconds:
            self.recorder.record(obj, events.WARNING, "MissSchedule",
                                 f"Missed scheduled time to start a job: {rfc1123(t)}")
            return res
        name = job_name(cj, t)
        if any(r.name == name for r in st.active) or (
                st.HasField("last_schedule_time")
                and st.last_schedule_time.ToSeconds() == int(t.timestamp())):
            return res
        if cj.spec.concurrency_policy == "Forbid" and st.active:
            self.recorder.record(obj, events.NORMAL, "JobAlreadyActive",
                                 "Not starting job because prior execution is running and "
                                 "concurrency policy is Forbid")
            return res
        if cj.spec.concurrency_policy == "Replace":
            for ref in list(st.active):
                j = batch_pb2.Job()
                j.metadata.namespace, j.metadata.name = ref.namespace, ref.name
                if not await self._delete_job(obj, j):
                    raise errors.Conflict(f"could not replace job {ref.namespace}/{ref.name}")
            del st.active[:]
        try:
            created = await self.client.create(job_for(obj, t))
            self.recorder.record(obj, events.NORMAL, "SuccessfulCreate",
                                 f"Created job {name}")
        except errors.AlreadyExists:
            created = await self.client.get("jobs", cj.metadata.namespace, name)
            owner = podutil.controller_ref(created.job.metadata)
            if owner is None or owner.uid != cj.metadata.uid:
                return res   # someone else's Job: assume they keep the status
        except errors.ApiError as e:
            self.recorder.record(obj, events.WARNING, "FailedCreate",
                                 f"Error creating job: {e}")
            raise
        if not any(r.uid == created.job.metadata.uid for r in st.active):
            st.active.append(reference_of(created))
        st.last_schedule_time.FromSeconds(int(t.timestamp()))
        return res
