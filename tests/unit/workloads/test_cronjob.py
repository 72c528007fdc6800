"""The CronJob controller with a clock the test moves: Jobs per scheduled time, the
concurrency policies, history limits, and missed schedules after an outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controlplane import cronschedule
from controlplane.controllers.cronjob import CronJobController
from controlplane.controllers.cronjobutil import SCHEDULED_AT, most_recent
from controlplane.objects import now_ts
from proto import batch_pb2
from tests.support.aio import eventually, run
from tests.unit.controllers.memclient import MemClient
from tests.unit.schema.validation_cases import with_
from tests.unit.workloads.harness import create, event_reasons, running
from tests.unit.workloads.manifests import CRONJOB, build

EVERY_MINUTE = cronschedule.parse("* * * * *")
T0 = datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)


def cronjob(**spec) -> batch_pb2.CronJob:
    doc = CRONJOB
    for k, v in spec.items():
        doc = with_(doc, f"spec.{k}", v)
    cj = build(doc).cron_job
    cj.metadata.creation_timestamp.FromDatetime(T0)
    return cj


def test_one_catch_up_run_for_the_most_recent_missed_time():
    cj = cronjob()
    assert most_recent(cj, T0 + timedelta(seconds=20), EVERY_MINUTE).scheduled is None
    due = most_recent(cj, T0 + timedelta(seconds=40), EVERY_MINUTE)
    assert due.scheduled == datetime(2024, 5, 1, 10, 1, tzinfo=UTC) and not due.too_many
    due = most_recent(cj, T0 + timedelta(minutes=4, seconds=40), EVERY_MINUTE)
    assert due.scheduled == datetime(2024, 5, 1, 10, 5, tzinfo=UTC) and due.missed == 5


def test_too_many_missed_start_times_and_the_starting_deadline():
    cj = cronjob()
    away = T0 + timedelta(hours=3)
    due = most_recent(cj, away, EVERY_MINUTE)
    assert due.too_many and due.scheduled == datetime(2024, 5, 1, 13, 0, tzinfo=UTC)
    limited = cronjob(startingDeadlineSeconds=200)
    due = most_recent(limited, away, EVERY_MINUTE)
    assert not due.too_many and due.scheduled == datetime(2024, 5, 1, 13, 0, tzinfo=UTC)


def test_time_zone_is_honoured():
    cj = cronjob(schedule="0 9 * * *", timeZone="Asia/Tokyo")   # 00:00 UTC
    due = most_recent(cj, datetime(2024, 5, 2, 0, 0, 5, tzinfo=UTC),
                      cronschedule.parse("0 9 * * *"))
    assert due.scheduled == datetime(2024, 5, 2, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def controller(clock):
    return lambda c, f, r: CronJobController(c, f, recorder=r, clock=clock)


async def jobs(client):
    return sorted((o.job for o in (await client.list("jobs", "default")).items),
                  key=lambda j: j.metadata.name)


async def status(client):
    return (await client.get("cronjobs", "default", "hello")).cron_job.status


async def finish(client, job, kind="Complete"):
    cur = await client.get("jobs", "default", job.metadata.name)
    c = cur.job.status.conditions.add(type=kind, status="True")
    c.last_transition_time.CopyFrom(now_ts())
    cur.job.status.completion_time.CopyFrom(now_ts())
    await client.update_status(cur)


async def tick(ctrl, clock, seconds):
    clock.now += seconds
    ctrl.enqueue("default/hello")


def test_a_job_per_minute_history_limits_and_status():
    async def main():
        client, clock = MemClient(), Clock()
        await create(client, with_(CRONJOB, "spec.successfulJobsHistoryLimit", 2))
        async with running(client, controller(clock)) as ctrl:
            for n in range(1, 5):
                await tick(ctrl, clock, 60)
                js = await eventually(lambda n=n: _count(client, min(n, 3)), what=f"job {n}")
                last = max(js, key=lambda j: j.metadata.name)
                assert last.metadata.owner_references[0].kind == "CronJob"
                assert last.metadata.annotations[SCHEDULED_AT].endswith("+00:00")
                assert [r.name for r in (await status(client)).active] == [last.metadata.name]
                await finish(client, last)
                await eventually(lambda: _no_active(client), what="active emptied")
            await eventually(lambda: _count(client, 2), what="history limit 2")
        st = await status(client)
        assert st.HasField("last_schedule_time") and st.HasField("last_successful_time")
        assert "SawCompletedJob" in await event_reasons(client)

    async def _count(client, n):
        js = await jobs(client)
        return js if len(js) == n and not any(j.metadata.HasField("deletion_timestamp")
                                               for j in js) else None

    async def _no_active(client):
        return not (await status(client)).active

    run(main(), timeout=30)


def test_concurrency_forbid_and_replace():
    async def main():
        client, clock = MemClient(), Clock()
        await create(client, with_(CRONJOB, "spec.concurrencyPolicy", "Forbid"))
        async with running(client, controller(clock)) as ctrl:
            await tick(ctrl, clock, 60)
            first = (await eventually(lambda: jobs(client), what="a job"))[0]
            await tick(ctrl, clock, 60)
            await eventually(lambda: _reason(client, "JobAlreadyActive"), what="forbidden")
            assert [j.metadata.name for j in await jobs(client)] == [first.metadata.name]
            cur = await client.get("cronjobs", "default", "hello")
            cur.cron_job.spec.concurrency_policy = "Replace"
            await client.update(cur)
            await tick(ctrl, clock, 60)
            second = await eventually(lambda: _other(client, first.metadata.name),
                                      what="a replacement job")
        assert [j.metadata.name for j in await jobs(client)] == [second.metadata.name]
        assert [r.name for r in (await status(client)).active] == [second.metadata.name]

    async def _reason(client, reason):
        return reason in await event_reasons(client)

    async def _other(client, name):
        js = await jobs(client)
        return js[0] if len(js) == 1 and js[0].metadata.name != name else None

    run(main(), timeout=30)


def test_after_an_outage_one_run_and_too_many_missed():
    async def main():
        client, clock = MemClient(), Clock()
        await create(client, CRONJOB)
        async with running(client, controller(clock)) as ctrl:
            await tick(ctrl, clock, 3 * 3600)       # the control plane was away 3 hours
            await eventually(lambda: jobs(client), what="a catch-up job")
            await eventually(lambda: _reason(client, "TooManyMissedTimes"), what="the event")
            await tick(ctrl, clock, 1)
            assert len(await jobs(client)) == 1      # one run, not 180

    async def _reason(client, reason):
        return reason in await event_reasons(client)

    run(main(), timeout=30)


def test_starting_deadline_and_suspend():
    async def main():
        client, clock = MemClient(), Clock()
        await create(client, with_(CRONJOB, "spec.startingDeadlineSeconds", 10))
        boundary = (int(clock.now) // 60 + 1) * 60
        async with running(client, counting(clock)) as ctrl:
            clock.now = boundary + 30      # that run could not start within 10 s: skipped
            await settle(ctrl)
            assert not await jobs(client)
            clock.now = boundary + 65      # 5 s late: within the deadline
            ctrl.enqueue("default/hello")
            js = await eventually(lambda: jobs(client), what="the next run")
            assert js[0].metadata.name == f"hello-{(boundary + 60) // 60}"
            cur = await client.get("cronjobs", "default", "hello")
            cur.cron_job.spec.suspend = True
            await client.update(cur)
            clock.now += 120
            await settle(ctrl)
            assert len(await jobs(client)) == 1

    run(main(), timeout=30)


class Counting(CronJobController):
    """Counts finished passes, so a test can wait for one and then see nothing happened."""

    passes = 0

    async def reconcile(self, key):
        try:
            return await super().reconcile(key)
        finally:
            self.passes += 1


def counting(clock):
    return lambda c, f, r: Counting(c, f, recorder=r, clock=clock)


async def settle(ctrl):
    before = ctrl.passes
    ctrl.enqueue("default/hello")
    await eventually(lambda: ctrl.passes > before, what="a pass of the controller")
