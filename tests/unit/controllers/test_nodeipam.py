"""Node IPAM over an in-memory client: each node gets the lowest free /24, a deleted
node's subnet is given out again, a podCIDR a node brings is kept, and allocating
for many nodes does not walk every subnet from the start each time."""

from __future__ import annotations

import asyncio

from controlplane.controllers.nodeipam import NodeIpamController
from controlplane.events import EventRecorder
from controlplane.informer import InformerFactory
from controlplane.tasks import cancel_and_wait
from proto import api_pb2
from tests.support.aio import eventually, run
from tests.unit.controllers.memclient import MemClient


def node(name: str, cidr: str = "") -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.node.metadata.name = name
    if cidr:
        obj.node.spec.pod_cidr = cidr
    return obj


def test_lowest_free_subnets_reused_after_delete_and_given_ones_kept() -> None:
    async def main() -> None:
        client = MemClient()
        factory = InformerFactory(client, resync_period=60)
        recorder = EventRecorder(client, "node-ipam-controller")
        ctrl = NodeIpamController(client, factory, cluster_cidr="10.8.0.0/14",
                                  recorder=recorder)
        await client.create(node("given", "10.8.1.0/24"))
        for n in ("a", "b", "c"):
            await client.create(node(n))
        factory.start()
        task = asyncio.create_task(ctrl.run())

        async def cidrs() -> dict[str, str]:
            return {o.node.metadata.name: o.node.spec.pod_cidr
                    for o in (await client.list("nodes")).items}

        async def all_set(n: int) -> bool:
            got = await cidrs()
            return len(got) == n and all(got.values())

        try:
            await eventually(lambda: all_set(4), timeout=10, what="4 podCIDRs")
            got = await cidrs()
            assert got["given"] == "10.8.1.0/24"
            assert sorted(got[n] for n in "abc") == ["10.8.0.0/24", "10.8.2.0/24",
                                                     "10.8.3.0/24"]
            freed = got["b"]
            await client.delete("nodes", "", "b")
            await client.create(node("d"))
            await eventually(lambda: all_set(4), timeout=10, what="d's podCIDR")
            assert (await cidrs())["d"] == freed      # the lowest free one: b's
            for i in range(300):
                await client.create(node(f"n{i:03d}"))
            await eventually(lambda: all_set(304), timeout=30, what="304 podCIDRs")
            assert len(set((await cidrs()).values())) == 304
            assert ctrl.next_free() == "10.9.48.0/24"   # 4 + 300 = 304 in use: 0..303
        finally:
            await cancel_and_wait([task], 5.0)
            await factory.stop()
            await recorder.close()

    run(main(), timeout=60)
