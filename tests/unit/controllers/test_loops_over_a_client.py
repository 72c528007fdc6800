"""The loops need only a `controlplane.client.Client`: the ReplicaSet controller and
the event recorder run against an in-memory client (no Registry, no etcd)."""

from __future__ import annotations

import asyncio

from controlplane.controllers.replicaset import ReplicaSetController
from controlplane.events import EventRecorder
from controlplane.informer import InformerFactory
from controlplane.objects import meta_of
from controlplane.profiles import DEMO
from controlplane.tasks import cancel_and_wait
from proto import api_pb2, apps_pb2
from tests.support.aio import eventually, run
from tests.unit.controllers.memclient import MemClient


def replica_set(name: str, replicas: int) -> api_pb2.Object:
    rs = apps_pb2.ReplicaSet(api_version="apps/v1", kind="ReplicaSet")
    rs.metadata.name, rs.metadata.namespace = name, "default"
    rs.spec.replicas = replicas
    rs.spec.selector.match_labels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    rs.spec.template.spec.containers.add(name="c", image="nginx")
    return api_pb2.Object(replica_set=rs)


def test_replicaset_controller_runs_against_any_client() -> None:
    async def main() -> None:
        client = MemClient()
        factory = InformerFactory(client, resync_period=60)
        recorder = EventRecorder(client, "replicaset-controller")
        ctrl = ReplicaSetController(client, factory, recorder=recorder, profile=DEMO)
        rs = await client.create(replica_set("web", 3))
        factory.start()
        task = asyncio.create_task(ctrl.run())

        async def pods() -> list[api_pb2.Object]:
            return list((await client.list("pods", "default", "app=web")).items)

        async def count(n: int) -> bool:
            return len(await pods()) == n

        try:
            await eventually(lambda: count(3), timeout=10, what="3 pods")
            uid = meta_of(rs).uid
            for p in await pods():
                refs = p.pod.metadata.owner_references
                assert [(r.kind, r.uid, r.controller) for r in refs] == [
                    ("ReplicaSet", uid, True)]
            scaled = await client.get("replicasets", "default", "web")
            scaled.replica_set.spec.replicas = 1
            await client.update(scaled)
            await eventually(lambda: count(1), timeout=10, what="scaled down to 1 pod")

            async def status_says_one() -> bool:
                cur = await client.get("replicasets", "default", "web")
                return cur.replica_set.status.replicas == 1
            await eventually(status_says_one, timeout=10, what="status.replicas 1")
            await recorder.flush()
            events = (await client.list("events", "default")).items
            assert any(e.event.reason == "SuccessfulCreate" for e in events)
        finally:
            await cancel_and_wait([task], 5.0)
            await factory.stop()
            await recorder.close()

    run(main(), timeout=30)
