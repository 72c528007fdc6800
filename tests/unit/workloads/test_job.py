"""The Job controller over the in-memory Client, the nodes played by the test: pods run,
succeed and fail as a kubelet would report them."""

from __future__ import annotations

import asyncio

from controlplane.controllers.job import JobController
from controlplane.controllers.jobutil import INDEX_KEY, TRACKING_FINALIZER
from controlplane.profiles import DEMO
from tests.support.aio import eventually, run
from tests.unit.controllers.memclient import MemClient
from tests.unit.schema.validation_cases import with_
from tests.unit.workloads.harness import create, event_reasons, pods, running, set_phase
from tests.unit.workloads.manifests import JOB

FAST = DEMO.with_(restart_backoff_initial=0.2, restart_backoff_max=0.4)


def controller(profile=FAST):
    return lambda c, f, r: JobController(c, f, recorder=r, profile=profile)


async def job(client: MemClient, name: str = "pi"):
    return (await client.get("jobs", "default", name)).job


def active(ps):
    return [p for p in ps if p.status.phase not in ("Succeeded", "Failed")
            and not p.metadata.HasField("deletion_timestamp")]


async def cond(client: MemClient, type_: str, name: str = "pi"):
    for c in (await job(client, name)).status.conditions:
        if c.type == type_ and c.status == "True":
            return c
    return None


def test_completions_with_parallelism_never_run_more_than_parallelism():
    async def main():
        client = MemClient()
        await create(client, with_(with_(JOB, "spec.completions", 5), "spec.parallelism", 2))
        most = 0
        async with running(client, controller()):
            for _ in range(5):
                ps = await eventually(lambda: _running(client), what="a pod to run")
                most = max(most, len(active(await pods(client))))
                await set_phase(client, ps[0], "Succeeded")
            c = await eventually(lambda: cond(client, "Complete"), what="Complete")
        assert c.reason == "CompletionsReached"
        st = (await job(client)).status
        assert (st.succeeded, st.failed, st.active) == (5, 0, 0)
        assert st.HasField("completion_time")
        assert most <= 2
        assert all(TRACKING_FINALIZER not in p.metadata.finalizers for p in await pods(client))
        assert "Completed" in await event_reasons(client)

    async def _running(client):
        return active(await pods(client))

    run(main(), timeout=30)


def test_backoff_limit_fails_the_job_after_backoff_between_retries():
    async def main():
        client = MemClient()
        await create(client, with_(JOB, "spec.backoffLimit", 2))
        async with running(client, controller()):
            for attempt in range(3):
                ps = await eventually(lambda: _active(client), what=f"attempt {attempt}")
                failed_at = asyncio.get_running_loop().time()
                await set_phase(client, ps[0], "Failed", exit_code=1)
                if attempt < 2:
                    await eventually(lambda: _active(client), what="a replacement")
                    waited = asyncio.get_running_loop().time() - failed_at
                    assert waited >= 0.2 * 2 ** attempt * 0.5 - 0.05  # back-off doubles
            c = await eventually(lambda: cond(client, "Failed"), what="Failed")
        assert (c.reason, c.message) == ("BackoffLimitExceeded",
                                         "Job has reached the specified backoff limit")
        assert (await job(client)).status.failed == 3

    async def _active(client):
        return active(await pods(client))

    run(main(), timeout=30)


def test_indexed_job_gives_each_pod_its_index():
    async def main():
        client = MemClient()
        doc = with_(with_(JOB, "spec.completions", 3), "spec.parallelism", 3)
        await create(client, with_(doc, "spec.completionMode", "Indexed"))
        async with running(client, controller()):
            ps = await eventually(lambda: _n(client, 3), what="3 pods")
            indexes = sorted(p.metadata.annotations[INDEX_KEY] for p in ps)
            assert indexes == ["0", "1", "2"]
            for p in ps:
                i = p.metadata.labels[INDEX_KEY]
                assert p.spec.hostname == f"pi-{i}"
                env = {e.name: e.value_from.field_ref.field_path
                       for e in p.spec.containers[0].env}
                assert env["JOB_COMPLETION_INDEX"] == \
                    "metadata.annotations['batch.kubernetes.io/job-completion-index']"
            one = next(p for p in ps if p.metadata.annotations[INDEX_KEY] == "1")
            await set_phase(client, one, "Failed", exit_code=2)
            redo = await eventually(lambda: _index(client, "1"), what="index 1 again")
            for p in [*ps, redo]:
                if p.metadata.uid != one.metadata.uid:
                    await set_phase(client, p, "Succeeded")
            await eventually(lambda: cond(client, "Complete"), what="Complete")
        assert (await job(client)).status.completed_indexes == "0-2"

    async def _n(client, n):
        ps = active(await pods(client))
        return ps if len(ps) == n else None

    async def _index(client, i):
        return next((p for p in active(await pods(client))
                     if p.metadata.annotations[INDEX_KEY] == i), None)

    run(main(), timeout=30)


def test_pod_failure_policy_fail_job_and_ignore():
    async def main():
        client = MemClient()
        policy = {"rules": [
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}},
            {"action": "FailJob", "onExitCodes": {"containerName": "pi", "operator": "In",
                                                  "values": [42]}}]}
        await create(client, with_(with_(JOB, "spec.podFailurePolicy", policy),
                                   "spec.backoffLimit", 0))
        async with running(client, controller()):
            ps = await eventually(lambda: _active(client), what="a pod")
            await set_phase(client, ps[0], "Failed", exit_code=7)   # ignored: not counted
            ps = await eventually(lambda: _active(client), what="a replacement")
            assert (await job(client)).status.failed == 0
            await set_phase(client, ps[0], "Failed", exit_code=42)
            c = await eventually(lambda: cond(client, "Failed"), what="Failed")
        assert c.reason == "PodFailurePolicy"
        assert "failed with exit code 42 matching FailJob rule at index 1" in c.message

    async def _active(client):
        return active(await pods(client))

    run(main(), timeout=30)


def test_suspend_deletes_pods_and_resume_starts_again():
    async def main():
        client = MemClient()
        await create(client, with_(JOB, "spec.parallelism", 2))
        async with running(client, controller()):
            await eventually(lambda: _count(client, 2), what="2 pods")
            cur = await client.get("jobs", "default", "pi")
            cur.job.spec.suspend = True
            await client.update(cur)
            c = await eventually(lambda: cond(client, "Suspended"), what="Suspended")
            assert c.reason == "JobSuspended"
            await eventually(lambda: _count(client, 0), what="pods deleted")
            cur = await client.get("jobs", "default", "pi")
            cur.job.spec.suspend = False
            await client.update(cur)
            await eventually(lambda: _count(client, 2), what="2 pods again")
        st = (await job(client)).status
        assert [(c.type, c.status, c.reason) for c in st.conditions] == [
            ("Suspended", "False", "JobResumed")]

    async def _count(client, n):
        return len(active(await pods(client))) == n

    run(main(), timeout=30)


def test_active_deadline_and_ttl_after_finished():
    async def main():
        client = MemClient()
        doc = with_(with_(JOB, "spec.activeDeadlineSeconds", 1),
                    "spec.ttlSecondsAfterFinished", 1)
        await create(client, doc)
        async with running(client, controller()):
            c = await eventually(lambda: cond(client, "Failed"), timeout=10, what="Failed")
            assert (c.reason, c.message) == ("DeadlineExceeded",
                                             "Job was active longer than specified deadline")
            assert not active(await pods(client))
            await eventually(lambda: _gone(client), timeout=10, what="deleted after its TTL")

    async def _gone(client):
        return not (await client.list("jobs", "default")).items

    run(main(), timeout=30)


def test_a_restart_loses_no_completion_and_counts_none_twice():
    """A finished pod recorded as uncounted while its finalizer is still on (the control
    plane stopped between the two writes) is counted once by the next controller."""
    async def main():
        client = MemClient()
        await create(client, with_(JOB, "spec.completions", 2))
        async with running(client, controller()):
            ps = await eventually(lambda: _active(client), what="a pod")
        # the first controller is gone: the pod succeeds, and the status already lists it
        await set_phase(client, ps[0], "Succeeded")
        cur = await client.get("jobs", "default", "pi")
        cur.job.status.uncounted_terminated_pods.succeeded.append(ps[0].metadata.uid)
        await client.update_status(cur)
        assert TRACKING_FINALIZER in (await pods(client))[0].metadata.finalizers
        async with running(client, controller()):
            second = await eventually(lambda: _active(client), what="the second pod")
            assert len(second) == 1
            st = (await job(client)).status
            assert st.succeeded == 1 and not st.uncounted_terminated_pods.succeeded
            await set_phase(client, second[0], "Succeeded")
            await eventually(lambda: cond(client, "Complete"), what="Complete")
        assert (await job(client)).status.succeeded == 2

    async def _active(client):
        return active(await pods(client))

    run(main(), timeout=30)


def test_pods_a_job_no_longer_owns_are_let_go():
    """Deleted with propagationPolicy Orphan (the ownerReference removed), or deleted
    outright: its pods lose the tracking finalizer, so nothing holds them."""
    async def main():
        client = MemClient()
        await create(client, with_(JOB, "spec.parallelism", 2))
        async with running(client, controller()):
            ps = await eventually(lambda: _two(client), what="2 pods")
            orphan = await client.get("pods", "default", ps[0].metadata.name)
            del orphan.pod.metadata.owner_references[:]
            await client.update(orphan)
            await client.delete("jobs", "default", "pi")
            await eventually(lambda: _untracked(client), what="finalizers removed")

    async def _two(client):
        ps = active(await pods(client))
        return ps if len(ps) == 2 else None

    async def _untracked(client):
        return all(TRACKING_FINALIZER not in p.metadata.finalizers for p in await pods(client))

    run(main(), timeout=30)
