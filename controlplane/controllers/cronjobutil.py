"""What the CronJob controller (controllers/cronjob.py) computes without writing: which
scheduled time is due (Kubernetes' mostRecentScheduleTime, with its "too many missed
start times" case), the Job of a scheduled time, and when to look again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from controlplane.cronschedule import Schedule
from controlplane.objects import owner_ref_to, ts_seconds
from proto import api_pb2, batch_pb2

SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MANY_MISSED = 100


def zone(cj: batch_pb2.CronJob) -> tzinfo:
    """The CronJob's time zone: `timeZone`, else the control plane's (UTC)."""
    return ZoneInfo(cj.spec.time_zone) if cj.spec.HasField("time_zone") else UTC


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class Due:
    scheduled: datetime | None     # the most recent unmet time (None: nothing due)
    missed: int                    # how many times were missed (roughly, as Kubernetes)
    earliest: datetime             # what the count started from

    @property
    def too_many(self) -> bool:
        return self.missed > MANY_MISSED


def most_recent(cj: batch_pb2.CronJob, now: datetime, sched: Schedule,
                with_deadline: bool = True) -> Due:
    """The most recent scheduled time in (last schedule or creation, now], at most one:
    a control plane that was away for hours starts one catch-up Job, not all of them.
    With startingDeadlineSeconds nothing older than that is considered."""
    earliest = _at(ts_seconds(cj.status.last_schedule_time)
                   if cj.status.HasField("last_schedule_time")
                   else ts_seconds(cj.metadata.creation_timestamp))
    if with_deadline and cj.spec.HasField("starting_deadline_seconds"):
        earliest = max(earliest, now - timedelta(seconds=cj.spec.starting_deadline_seconds))
    tz = zone(cj)
    t1 = sched.next(earliest, tz)
    if t1 is None or now < t1:
        return Due(None, 0, earliest)
    t2 = sched.next(t1, tz)
    if t2 is None or now < t2:
        return Due(t1, 1, earliest)
    between = round((t2 - t1).total_seconds())
    if between < 1:
        return Due(None, 0, earliest)
    missed = int((now - t1).total_seconds()) // between + 1
    # start a little before the last probable time and let the schedule find it
    t: datetime | None = sched.next(t1 + timedelta(seconds=(missed - 2) * between), tz)
    last = None
    while t is not None and t <= now:
        last = t
        t = sched.next(t, tz)
    return Due(last, missed, earliest)


def next_after(cj: batch_pb2.CronJob, now: datetime, sched: Schedule) -> float | None:
    """Seconds until the next scheduled time after now (None: never again)."""
    t = sched.next(now, zone(cj))
    return None if t is None else max((t - now).total_seconds(), 0.0)


def job_name(cj: batch_pb2.CronJob, scheduled: datetime) -> str:
    """<cronjob>-<minutes since the epoch>: one name per scheduled time, so a restart
    that did not see its own write cannot start the same run twice."""
    return f"{cj.metadata.name}-{int(scheduled.timestamp()) // 60}"


def job_for(cj_obj: api_pb2.Object, scheduled: datetime) -> api_pb2.Object:
    cj = cj_obj.cron_job
    t = cj.spec.job_template
    job = batch_pb2.Job(api_version="batch/v1", kind="Job")
    job.metadata.name = job_name(cj, scheduled)
    job.metadata.namespace = cj.metadata.namespace
    job.metadata.labels.update(t.metadata.labels)
    job.metadata.annotations.update(t.metadata.annotations)
    job.metadata.annotations[SCHEDULED_AT] = scheduled.astimezone(zone(cj)).isoformat()
    job.metadata.owner_references.append(owner_ref_to(cj_obj))
    job.spec.CopyFrom(t.spec)
    return api_pb2.Object(job=job)


def finished_condition(job: batch_pb2.Job) -> str:
    """"Complete", "Failed" or "" (still running)."""
    for c in job.status.conditions:
        if c.type in ("Complete", "Failed") and c.status == "True":
            return c.type
    return ""


def history_to_delete(jobs: list[batch_pb2.Job], kind: str, limit: int) -> list[batch_pb2.Job]:
    """The oldest finished Jobs of `kind` beyond the history limit."""
    done = [j for j in jobs if finished_condition(j) == kind
            and not j.metadata.HasField("deletion_timestamp")]
    done.sort(key=lambda j: (ts_seconds(j.status.start_time) if j.status.HasField("start_time")
                             else ts_seconds(j.metadata.creation_timestamp), j.metadata.name))
    return done[:max(len(done) - limit, 0)]


def rfc1123(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
