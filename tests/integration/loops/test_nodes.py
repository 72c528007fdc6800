"""Node loss: NotReady, taints, eviction, replacement, return without duplicates."""

from __future__ import annotations

import asyncio

from controlplane import errors
from proto import api_pb2
from tests.integration.loops.harness import (
    FAST,
    Cluster,
    active,
    deployment,
    deployment_done,
    is_ready,
    pod,
)
from tests.support.aio import eventually, run

UNREACHABLE = "node.kubernetes.io/unreachable"


def test_node_loss_and_return(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=3) as c:
            reg = c.registry
            await reg.create(deployment("web", 6))
            await eventually(lambda: deployment_done(reg, "web", 6), timeout=30)
            on_lost = [p.metadata.name for p in await c.pods()
                       if p.spec.node_name == "node-1" and active(p)]
            assert on_lost, "spread should have put pods on node-1"
            assert c.agent is not None
            c.agent.stop_node("node-1")

            async def unknown():
                n = (await reg.get("nodes", "", "node-1")).node
                ready = next(x for x in n.status.conditions if x.type == "Ready")
                taints = {(t.key, t.effect) for t in n.spec.taints}
                return (ready.status == "Unknown" and ready.reason == "NodeStatusUnknown"
                        and taints == {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")})
            await eventually(unknown, timeout=20, what="node-1 NotReady + tainted")

            async def replaced():
                pods = [p for p in await c.pods() if active(p)]
                return (len(pods) == 6 and all(p.spec.node_name in ("node-0", "node-2")
                                               for p in pods)
                        and await deployment_done(reg, "web", 6))
            await eventually(replaced, timeout=30, what="pods replaced on healthy nodes")
            names = {p.metadata.name for p in await c.pods()}
            assert not names & set(on_lost), "evicted pods are gone from the API"

            async def evict_event():
                evs = (await reg.list("events", "default")).items
                return [e.event.message for e in evs if e.event.involved_object.name == "node-1"
                        and "evicting" in e.event.message]
            msgs = await eventually(evict_event, timeout=10)
            assert msgs[0] == f"Node node-1 NotReady: evicting {len(on_lost)} pods"

            # the node comes back: taints go, nothing is duplicated
            c.agent.resume_node("node-1")

            async def back():
                n = (await reg.get("nodes", "", "node-1")).node
                ready = next(x for x in n.status.conditions if x.type == "Ready")
                return ready.status == "True" and not n.spec.taints
            await eventually(back, timeout=20, what="node-1 Ready again")
            await deployment_done(reg, "web", 6)
            pods = [p for p in await c.pods() if active(p)]
            assert len(pods) == 6
            assert len({p.metadata.name for p in pods}) == 6
            rs = (await reg.list("replicasets", "default")).items
            assert [r.replica_set.status.replicas for r in rs] == [6]
            # scale up: the returned node takes pods again
            cur = await reg.get("deployments", "default", "web")
            cur.deployment.spec.replicas = 9
            await reg.update(cur)
            await eventually(lambda: deployment_done(reg, "web", 9), timeout=30)
            assert any(p.spec.node_name == "node-1" for p in await c.pods())

    run(main(), timeout=120)


def test_unreachable_node_pods_marked_not_ready_before_eviction(etcd):
    async def main():
        prof = FAST.with_(pod_eviction_timeout=60.0)
        async with Cluster(etcd.endpoint, nodes=2, profile=prof) as c:
            reg = c.registry
            await reg.create(deployment("web", 4))
            await eventually(lambda: deployment_done(reg, "web", 4), timeout=30)
            assert c.agent is not None
            c.agent.stop_node("node-0")

            async def marked():
                pods = [p for p in await c.pods() if p.spec.node_name == "node-0"]
                return pods and all(not is_ready(p) for p in pods)
            await eventually(marked, timeout=20, what="pods on node-0 not ready")

            async def degraded():
                d = (await reg.get("deployments", "default", "web")).deployment
                return d.status.available_replicas == 2
            await eventually(degraded, timeout=20, what="availability drops")
            # not evicted yet (timeout 60 s): the same pods are still there
            assert len([p for p in await c.pods() if active(p)]) == 4
            c.agent.resume_node("node-0")
            await eventually(lambda: deployment_done(reg, "web", 4), timeout=20,
                             what="ready again when the node is back")

    run(main(), timeout=90)


def test_deleted_node_pods_are_replaced(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=2) as c:
            reg = c.registry
            await reg.create(deployment("web", 4))
            await eventually(lambda: deployment_done(reg, "web", 4), timeout=30)
            assert c.agent is not None
            c.agent.stop_node("node-1")
            await reg.delete("nodes", "", "node-1")

            async def moved():
                pods = [p for p in await c.pods() if active(p)]
                return (len(pods) == 4 and all(p.spec.node_name == "node-0" for p in pods)
                        and await deployment_done(reg, "web", 4))
            await eventually(moved, timeout=30, what="pods of the deleted node replaced")

    run(main(), timeout=60)


def _bound_pod(name: str, node: str, *tolerations: dict) -> api_pb2.Object:
    obj = pod(name)
    obj.pod.spec.node_name = node
    for t in tolerations:
        obj.pod.spec.tolerations.add(**t)
    return obj


def test_unreachable_node_honours_toleration_seconds(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=2) as c:  # pod eviction timeout 1 s
            reg = c.registry
            await reg.create(_bound_pod("plain", "node-1"))
            await reg.create(_bound_pod("brief", "node-1", {
                "key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                "toleration_seconds": 4}))
            await reg.create(_bound_pod("forever", "node-1", {
                "key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}))

            async def names():
                return {p.metadata.name for p in await c.pods() if active(p)}
            await eventually(lambda: c.pods(), timeout=10)
            assert c.agent is not None
            c.agent.stop_node("node-1")
            left = await eventually(
                lambda: _when(names(), lambda n: "plain" not in n), timeout=20,
                what="the pod without toleration evicted")
            assert left == {"brief", "forever"}, "tolerationSeconds=4 outlasts the 1 s default"
            left = await eventually(lambda: _when(names(), lambda n: "brief" not in n),
                                    timeout=20, what="evicted when its tolerationSeconds ran out")
            assert left == {"forever"}
            c.agent.resume_node("node-1")

            async def back():
                n = (await reg.get("nodes", "", "node-1")).node
                return not n.spec.taints
            await eventually(back, timeout=20, what="node-1 back")
            assert await names() == {"forever"}, "no tolerationSeconds: tolerated forever"

    run(main(), timeout=90)


def test_user_noexecute_taint_evicts_pods_that_do_not_tolerate_it(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=2) as c:
            reg = c.registry
            await reg.create(_bound_pod("other", "node-0"))
            await reg.create(_bound_pod("db", "node-0", {
                "key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoExecute"}))
            for _ in range(20):   # the node IPAM controller and the agent write it too
                cur = await reg.get("nodes", "", "node-0")
                cur.node.spec.taints.add(key="dedicated", value="db", effect="NoExecute")
                try:
                    await reg.update(cur)
                    break
                except errors.Conflict:
                    continue

            async def gone():
                return {p.metadata.name for p in await c.pods() if active(p)} == {"db"}
            await eventually(gone, timeout=20, what="the untolerating pod evicted")

    run(main(), timeout=60)


async def _when(value, pred):
    v = await value
    return v if pred(v) else None


def test_most_nodes_lost_at_once_are_marked_not_evicted(etcd):
    """Two of three nodes silent at once (more than 55%): the control plane is the likelier
    one cut off (an etcd leader change, a new loops leader): NotReady and tainted, but
    their pods stay; back, nothing was replaced."""
    async def main():
        async with Cluster(etcd.endpoint, nodes=3) as c:
            reg = c.registry
            await reg.create(deployment("calm", 6))
            await eventually(lambda: deployment_done(reg, "calm", 6), timeout=30)
            before = {p.metadata.name for p in await c.pods() if active(p)}
            assert c.agent is not None
            c.agent.stop_node("node-0")
            c.agent.stop_node("node-1")

            async def both_unknown():
                out = []
                for name in ("node-0", "node-1"):
                    n = (await reg.get("nodes", "", name)).node
                    ready = next(x for x in n.status.conditions if x.type == "Ready")
                    out.append(ready.status == "Unknown" and
                               any(t.key == UNREACHABLE for t in n.spec.taints))
                return all(out)
            await eventually(both_unknown, timeout=20, what="both nodes NotReady + tainted")
            # an absence can only be seen by waiting: well past the eviction timeout
            await asyncio.sleep(FAST.pod_eviction_timeout + 3 * FAST.node_monitor_period + 1)
            assert {p.metadata.name for p in await c.pods() if active(p)} == before
            c.agent.resume_node("node-0")
            c.agent.resume_node("node-1")

            async def back():
                for name in ("node-0", "node-1"):
                    n = (await reg.get("nodes", "", name)).node
                    if n.spec.taints:
                        return False
                return True
            await eventually(back, timeout=20, what="both nodes Ready again")
            assert {p.metadata.name for p in await c.pods() if active(p)} == before

    run(main(), timeout=120)
