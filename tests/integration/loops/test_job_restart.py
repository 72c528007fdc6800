"""A Job across a control plane crash, with real processes: `python -m controlplane`
on a real etcd, hollow nodes that run its pods, the test finishing the pods as their
work would. The control plane is SIGKILLed and started again in the middle: no
completion is lost or counted twice, and no more than `parallelism` pods ever run."""

from __future__ import annotations

import asyncio

import grpc

from agent.hollow import HollowAgent
from controlplane.objects import now_ts
from proto import api_pb2, api_pb2_grpc, batch_pb2
from tests.support.aio import eventually, run
from tests.support.controlplane import ControlPlaneProcess

COMPLETIONS, PARALLELISM = 6, 2


def job() -> api_pb2.Object:
    j = batch_pb2.Job(api_version="batch/v1", kind="Job")
    j.metadata.name, j.metadata.namespace = "work", "default"
    j.spec.completions, j.spec.parallelism = COMPLETIONS, PARALLELISM
    c = j.spec.template.spec.containers.add(name="w", image="demo:latest")
    c.command.extend(["sh", "-c", "work"])
    j.spec.template.spec.restart_policy = "Never"
    return api_pb2.Object(job=j)


async def job_pods(stub: api_pb2_grpc.ApiStub) -> list[api_pb2.Object]:
    lst = await stub.List(api_pb2.ListRequest(resource="pods", namespace="default",
                                              label_selector="job-name=work"))
    return list(lst.items)


def active(pods: list[api_pb2.Object]) -> list[api_pb2.Object]:
    return [o for o in pods if o.pod.status.phase not in ("Succeeded", "Failed")
            and not o.pod.metadata.HasField("deletion_timestamp")]


async def finish_one(stub: api_pb2_grpc.ApiStub) -> bool:
    """Mark one running pod Succeeded, as its node reports a container that exited 0."""
    for o in await job_pods(stub):
        if o.pod.status.phase == "Running":
            o.pod.status.phase = "Succeeded"
            for cs in o.pod.status.container_statuses:
                cs.ClearField("state")
                cs.state.terminated.exit_code = 0
                cs.state.terminated.reason = "Completed"
                cs.state.terminated.finished_at.CopyFrom(now_ts())
            try:
                await stub.UpdateStatus(api_pb2.UpdateRequest(object=o))
                return True
            except grpc.aio.AioRpcError:
                return False
    return False


def test_a_control_plane_crash_mid_job_loses_no_completion_and_starts_no_extra_pod(etcd):
    # the default profile's 40 s node grace: the hollow nodes' heartbeats, which pause
    # while the control plane is down, do not get them evicted (that is not the test)
    cp = ControlPlaneProcess(etcd.endpoint, profile="default")

    async def main() -> None:
        most = 0
        stop = asyncio.Event()

        async def monitor(stub: api_pb2_grpc.ApiStub) -> None:   # the invariant, all along
            nonlocal most
            while not stop.is_set():
                try:
                    most = max(most, len(active(await job_pods(stub))))
                except grpc.aio.AioRpcError:
                    pass        # the control plane is down for a moment
                await asyncio.sleep(0.05)

        async with HollowAgent(cp.address, nodes=2, prefix="n-", heartbeat=0.5,
                               lease_duration=5), grpc.aio.insecure_channel(cp.address) as ch:
            stub = api_pb2_grpc.ApiStub(ch)
            await stub.Create(api_pb2.CreateRequest(object=job()))
            watcher = asyncio.create_task(monitor(stub))
            for n in range(COMPLETIONS):
                await eventually(lambda: finish_one(stub), timeout=30, what=f"pod {n} done")
                if n == 2:      # crash while the third completion is being counted
                    cp.kill()
                    cp.start()
            st = await eventually(lambda: _complete(stub), timeout=60, what="Complete")
            stop.set()
            await watcher
            pods = await job_pods(stub)
        summary = [(o.pod.metadata.name, o.pod.status.phase,
                    o.pod.metadata.HasField("deletion_timestamp")) for o in pods]
        assert st.succeeded == COMPLETIONS and st.failed == 0, (summary, cp.log()[-4000:])
        assert len(pods) == COMPLETIONS                      # no extra pod was started
        assert all(not o.pod.metadata.finalizers for o in pods)
        assert most <= PARALLELISM

    async def _complete(stub: api_pb2_grpc.ApiStub) -> batch_pb2.JobStatus | None:
        j = (await stub.Get(api_pb2.GetRequest(resource="jobs", namespace="default",
                                               name="work"))).job
        done = any(c.type == "Complete" and c.status == "True" for c in j.status.conditions)
        return j.status if done else None

    with cp:
        run(main(), timeout=180)
