"""The Job controller never runs more than `parallelism` pods nor makes more than it
needs when its pod cache catches up in the middle of a pass.

The controller's informers are not running here: the test relists them itself
(`Informer._list`, which delivers the difference as a relist would), so it decides
exactly what the controller has seen when, and calls `reconcile` pass by pass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from controlplane.controllers.job import JobController
from controlplane.events import EventRecorder
from controlplane.informer import Informer, InformerFactory
from proto import api_pb2
from tests.support.aio import run
from tests.unit.controllers.memclient import MemClient
from tests.unit.schema.validation_cases import with_
from tests.unit.workloads.harness import create, pods, set_phase
from tests.unit.workloads.manifests import JOB

KEY = "default/pi"


class HookedClient(MemClient):
    """A MemClient that runs `hook` (once) when the controller next reads a pod."""

    hook: Callable[[], Awaitable[None]] | None = None

    async def get(self, resource: str, namespace: str, name: str) -> api_pb2.Object:
        if resource == "pods" and self.hook is not None:
            hook, self.hook = self.hook, None
            await hook()
        return await super().get(resource, namespace, name)


async def relist(inf: Informer) -> None:
    await inf._list()


def active(ps):
    return [p for p in ps if p.status.phase not in ("Succeeded", "Failed")
            and not p.metadata.HasField("deletion_timestamp")]


def test_a_creation_seen_during_a_pass_does_not_let_that_pass_create_again():
    """Pass 2 creates pod C. Pass 3 reads its pods before C reaches the cache; while it
    removes a finished pod's tracking finalizer, C arrives (the creation is observed, the
    expectations are met). Pass 3 must still not create: its pod list lacks C."""
    async def main():
        client = HookedClient()
        await create(client, with_(with_(JOB, "spec.completions", 10), "spec.parallelism", 2))
        recorder = EventRecorder(client, "job-controller")
        ctl = JobController(client, InformerFactory(client), recorder=recorder)
        try:
            await relist(ctl.jobs)
            await relist(ctl.pods)
            await ctl.reconcile(KEY)                  # pass 1: pods A and B
            await relist(ctl.pods)
            a, b = await pods(client)
            await set_phase(client, a, "Succeeded")
            await set_phase(client, b, "Running")
            await relist(ctl.pods)
            await relist(ctl.jobs)
            await ctl.reconcile(KEY)                  # pass 2: A recorded, released; pod C
            assert len(await pods(client)) == 3
            await relist(ctl.jobs)                    # the Job's status is seen, C is not

            fired = []

            async def c_arrives() -> None:
                await relist(ctl.pods)
                fired.append(True)

            client.hook = c_arrives
            await ctl.reconcile(KEY)                  # pass 3
            assert fired, "pass 3 read no pod: the race is not exercised"
            ps = await pods(client)
            running, made = len(active(ps)), len(ps)
            assert running <= 2, f"{running} pods running at once, parallelism is 2"
            assert made == 3, f"{made} pods made where 3 were needed so far"

            await relist(ctl.pods)
            await relist(ctl.jobs)
            await ctl.reconcile(KEY)                  # pass 4: B and C run, nothing to do
            ps = await pods(client)
            assert (len(ps), len(active(ps))) == (3, 2)
        finally:
            await recorder.flush()
            await recorder.close()

    run(main(), timeout=30)
