"""The loops inside real `python -m controlplane` processes: two replicas, the
leader SIGKILLed during a rollout, the other finishes it."""

from __future__ import annotations

import asyncio
import time

import grpc

from agent.hollow import HollowAgent
from controlplane.leader import LeaderElector
from proto import api_pb2, api_pb2_grpc
from tests.integration.loops.harness import deployment
from tests.support.aio import eventually, run
from tests.support.controlplane import ControlPlaneProcess


async def done(stub, name, replicas, image):
    d = (await stub.Get(api_pb2.GetRequest(resource="deployments", namespace="default",
                                           name=name))).deployment
    st = d.status
    if not (st.observed_generation >= d.metadata.generation and st.updated_replicas == replicas
            and st.available_replicas == replicas and st.replicas == replicas):
        return False
    pods = (await stub.List(api_pb2.ListRequest(resource="pods", namespace="default",
                                                label_selector=f"app={name}"))).items
    act = [o.pod for o in pods if not o.pod.metadata.HasField("deletion_timestamp")]
    return len(act) == replicas and all(p.spec.containers[0].image == image for p in act)


def test_two_processes_leader_sigkilled_mid_rollout(etcd):
    a = ControlPlaneProcess(etcd.endpoint, profile="demo")
    b = ControlPlaneProcess(etcd.endpoint, profile="demo")

    async def main():
        # find the leader (identity "<host>-<pid>"); the agent and the test talk to
        # the other replica's API server, so killing the leader kills only its loops
        probe = LeaderElector([etcd.endpoint], "probe")
        who = await probe.wait_for_leader(timeout=30)
        await probe.resign()
        leader, follower = (a, b) if who.endswith(f"-{a.pid}") else (b, a)
        assert who.endswith(f"-{leader.pid}"), (who, a.pid, b.pid)
        async with HollowAgent(follower.address, nodes=3, prefix="n-", heartbeat=1.0,
                               lease_duration=3) as agent:
            assert agent.nodes
            async with grpc.aio.insecure_channel(follower.address) as ch:
                stub = api_pb2_grpc.ApiStub(ch)
                await stub.Create(api_pb2.CreateRequest(object=deployment(
                    "web", 6, image="v1", max_surge=1, max_unavailable=0,
                    min_ready_seconds=1)))
                await eventually(lambda: done(stub, "web", 6, "v1"), timeout=60,
                                 what="v1 ready")
                first_node: dict[str, str] = {}

                async def watch_binds(rv: str) -> None:
                    async for ev in stub.Watch(api_pb2.WatchRequest(
                            resource="pods", namespace="default", resource_version=rv)):
                        p = ev.object.pod
                        if p.spec.node_name:
                            prev = first_node.setdefault(p.metadata.uid, p.spec.node_name)
                            assert prev == p.spec.node_name, "pod bound twice"
                lst = await stub.List(api_pb2.ListRequest(resource="pods", namespace="default"))
                watcher = asyncio.create_task(watch_binds(lst.resource_version))
                cur = await stub.Get(api_pb2.GetRequest(resource="deployments",
                                                        namespace="default", name="web"))
                cur.deployment.spec.template.spec.containers[0].image = "v2"
                await stub.Update(api_pb2.UpdateRequest(object=cur))

                async def some_v2():
                    pods = (await stub.List(api_pb2.ListRequest(
                        resource="pods", namespace="default"))).items
                    return any(o.pod.spec.containers[0].image == "v2" for o in pods)
                await eventually(some_v2, timeout=30)
                assert not await done(stub, "web", 6, "v2")
                killed = time.monotonic()
                leader.kill()  # SIGKILL: its etcd lease is not revoked, it must expire
                await eventually(lambda: done(stub, "web", 6, "v2"), timeout=90,
                                 what="survivor finishes the rollout")
                elapsed = time.monotonic() - killed
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
                assert elapsed < 60
                after = await probe.wait_for_leader(timeout=10)
                assert after.endswith(f"-{follower.pid}")

    try:
        a.start(timeout=90)  # generous: the test machines are shared and busy
        b.start(timeout=90)
        run(main(), timeout=180)
    finally:
        a.close()
        b.close()
