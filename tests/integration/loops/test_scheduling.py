"""The scheduler against a real API server and hollow nodes."""

from __future__ import annotations

import asyncio
import time

from controlplane.scheduler.resources import pod_resources
from tests.integration.loops.harness import Cluster, pod
from tests.support.aio import eventually, run


def test_unschedulable_reasons(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=3, node_memory="2Gi") as c:
            reg = c.registry
            # label one node so it is the only selector match, but too small
            for _ in range(10):
                n = await reg.get("nodes", "", "node-2")
                n.node.metadata.labels["disk"] = "ssd"
                try:
                    await reg.update(n)
                    break
                except Exception:
                    continue
            await reg.create(pod("huge", memory="4Gi"))
            await reg.create(pod("picky", memory="4Gi", node_selector={"disk": "nvme"}))

            async def condition(name, message):
                # the scheduler may first see fewer nodes (informer catching up):
                # wait for the message about all three
                p = (await reg.get("pods", "default", name)).pod
                for cnd in p.status.conditions:
                    if cnd.type == "PodScheduled" and cnd.status == "False" and \
                            cnd.message == message:
                        return cnd
                return None
            cnd = await eventually(lambda: condition(
                "huge", "0/3 nodes are available: 3 Insufficient memory."), timeout=20)
            assert cnd.reason == "Unschedulable"
            cnd = await eventually(lambda: condition(
                "picky", "0/3 nodes are available: 3 node(s) didn't match Pod's "
                "node affinity/selector."), timeout=20)
            assert cnd.reason == "Unschedulable"

            async def warning():
                evs = (await reg.list("events", "default")).items
                # (an earlier one may tell of nodes the scheduler had not yet seen Ready)
                return [e.event for e in evs if e.event.reason == "FailedScheduling"
                        and e.event.involved_object.name == "huge"
                        and "Insufficient memory" in e.event.message]
            evs = await eventually(warning, timeout=20)
            assert evs[0].type == "Warning"
            # a node that fits appears: the pod is retried and bound
            from agent.hollow import HollowAgent
            big = HollowAgent(c.cp.address, nodes=1, prefix="big-", memory="16Gi",
                              heartbeat=c.profile.heartbeat_interval)
            await big.start()
            try:
                async def bound():
                    return (await reg.get("pods", "default", "huge")).pod.spec.node_name
                assert await eventually(bound, timeout=20) == "big-0"

                async def scheduled_event():
                    evs = (await reg.list("events", "default")).items
                    return [e.event.message for e in evs if e.event.reason == "Scheduled"
                            and e.event.involved_object.name == "huge"]
                msgs = await eventually(scheduled_event, timeout=10)
                assert msgs[0].startswith("Successfully assigned default/huge to big-0 (score ")
            finally:
                await big.close()

    run(main(), timeout=90)


def test_no_overcommit_with_1000_pods(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=4, node_cpu="2", node_memory="4Gi") as c:
            reg = c.registry
            sem = asyncio.Semaphore(64)

            async def mk(i):
                async with sem:
                    await reg.create(pod(f"small-{i}", cpu="30m", memory="50Mi"))
            t0 = time.monotonic()
            await asyncio.gather(*(mk(i) for i in range(1000)))
            created = time.monotonic() - t0
            # 2000m/30m = 66 by cpu, 4096Mi/50Mi = 81 by memory: 66 per node

            async def settled():
                pods = (await reg.list("pods", "default")).items
                return sum(1 for o in pods if o.pod.spec.node_name) >= 264
            await eventually(settled, timeout=60, what="264 pods bound")
            elapsed = time.monotonic() - t0
            pods = [o.pod for o in (await reg.list("pods", "default")).items]
            per_node: dict[str, list] = {}
            for p in pods:
                if p.spec.node_name:
                    per_node.setdefault(p.spec.node_name, []).append(p)
            for node, ps in per_node.items():
                cpu = sum(pod_resources(p)[0].milli_cpu for p in ps)
                mem = sum(pod_resources(p)[0].memory for p in ps)
                assert cpu <= 2000 and mem <= 4 * 1024 ** 3, (node, cpu, mem)
                assert len(ps) == 66, (node, len(ps))
            assert sum(len(v) for v in per_node.values()) == 264
            pending = [p for p in pods if not p.spec.node_name]
            assert len(pending) == 736
            print(f"\n1000 pods created in {created:.2f}s; 264 bound after {elapsed:.2f}s")

            async def marked():
                p = (await reg.get("pods", "default", pending[0].metadata.name)).pod
                return any(x.type == "PodScheduled" and x.status == "False" and
                           "4 Insufficient cpu" in x.message for x in p.status.conditions)
            await eventually(marked, timeout=30, what="pending pod says why")

    run(main(), timeout=180)
