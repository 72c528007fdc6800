"""The DaemonSet controller over the in-memory Client, the nodes played by the test:
eligible nodes, nodes joining and leaving, rolling updates and their history."""

from __future__ import annotations

from controlplane.controllers.daemonset import DaemonSetController
from controlplane.controllers.daemonsetutil import target_node
from controlplane.profiles import DEMO
from tests.support.aio import eventually, run
from tests.unit.controllers.memclient import MemClient
from tests.unit.schema.validation_cases import with_
from tests.unit.workloads.harness import (
    create,
    event_reasons,
    kubelets,
    node,
    pods,
    running,
    set_phase,
)
from tests.unit.workloads.manifests import DAEMONSET

NS = "kube-system"
SEL = "name=fluentd-elasticsearch"


def controller():
    prof = DEMO.with_(restart_backoff_initial=0.1, restart_backoff_max=0.2)
    return lambda c, f, r: DaemonSetController(c, f, recorder=r, profile=prof)


async def placed(client) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in await pods(client, NS, SEL):
        if not p.metadata.HasField("deletion_timestamp") and \
                p.status.phase not in ("Failed", "Succeeded"):
            out.setdefault(target_node(p), []).append(p.spec.containers[0].image)
    return out


async def status(client):
    return (await client.get("daemonsets", NS, "fluentd-elasticsearch")).daemon_set.status


def test_one_pod_per_eligible_node_including_nodes_that_join_and_leave():
    async def main():
        client = MemClient()
        await client.create(node("n1"))
        await client.create(node("n2", taints=[("dedicated", "NoSchedule")]))
        await client.create(node("n3", taints=[("node-role.kubernetes.io/control-plane",
                                                "NoSchedule")]))
        await client.create(node("n4", {"disk": "hdd"}))
        await create(client, with_(DAEMONSET, "spec.template.spec.nodeSelector",
                                   {"kubernetes.io/os": "linux"}))
        for n in ("n1", "n2", "n3"):
            cur = await client.get("nodes", "", n)
            cur.node.metadata.labels["kubernetes.io/os"] = "linux"
            await client.update(cur)
        async with running(client, controller()), kubelets(client):
            # n2's taint is not tolerated, n4 lacks the label
            await eventually(lambda: _is(client, {"n1", "n3"}), what="pods on n1, n3")
            st = await eventually(lambda: _status(client, 2), what="status")
            assert (st.number_ready, st.number_misscheduled) == (2, 0)
            await client.create(node("n5", {"kubernetes.io/os": "linux"}))   # joins later
            await eventually(lambda: _is(client, {"n1", "n3", "n5"}), what="pod on n5")
            cur = await client.get("nodes", "", "n1")
            del cur.node.metadata.labels["kubernetes.io/os"]                  # stops matching
            await client.update(cur)
            await eventually(lambda: _is(client, {"n3", "n5"}), what="n1's pod gone")
            await client.delete("nodes", "", "n5")                            # leaves
            await client.create(node("n6", {"kubernetes.io/os": "linux"}))
            await eventually(lambda: _has(client, "n6"), what="pod on n6")

    async def _is(client, nodes):
        p = await placed(client)
        return set(p) == nodes and all(len(v) == 1 for v in p.values())

    async def _has(client, n):
        return n in await placed(client)

    async def _status(client, n):
        st = await status(client)
        return st if st.desired_number_scheduled == n and st.number_available == n else None

    run(main(), timeout=30)


def test_rolling_update_within_max_unavailable_keeps_the_history():
    async def main():
        client = MemClient()
        for i in range(4):
            await client.create(node(f"n{i}"))
        await create(client, DAEMONSET)
        async with running(client, controller()), kubelets(client):
            await eventually(lambda: _all(client, "demo:latest"), what="4 pods of v1")
            cur = await client.get("daemonsets", NS, "fluentd-elasticsearch")
            cur.daemon_set.spec.template.spec.containers[0].image = "demo:v2"
            await client.update(cur)
            worst = 0

            async def watch_and_finish():    # monitor the invariant while waiting
                nonlocal worst
                p = await placed(client)
                worst = max(worst, 4 - sum(1 for v in p.values() if v))
                return await _all(client, "demo:v2")
            await eventually(watch_and_finish, interval=0.01, what="all pods v2")
            assert worst <= 1           # maxUnavailable 1: never two nodes without a daemon
            revs = sorted((o.controller_revision.revision,
                           o.controller_revision.data.spec.template.spec.containers[0].image)
                          for o in (await client.list("controllerrevisions", NS)).items)
            assert revs == [(1, "demo:latest"), (2, "demo:v2")]
            st = await eventually(lambda: _updated(client, 4), what="updated status")
            assert st.updated_number_scheduled == 4

    async def _all(client, image):
        p = await placed(client)
        return len(p) == 4 and all(v == [image] for v in p.values())

    async def _updated(client, n):
        st = await status(client)
        return st if st.updated_number_scheduled == n else None

    run(main(), timeout=30)


def test_max_surge_starts_the_new_pod_before_the_old_one_goes():
    async def main():
        client = MemClient()
        await client.create(node("n1"))
        doc = with_(DAEMONSET, "spec.updateStrategy", {"type": "RollingUpdate", "rollingUpdate":
                                                       {"maxSurge": 1, "maxUnavailable": 0}})
        await create(client, doc)
        async with running(client, controller()), kubelets(client):
            await eventually(lambda: _images(client, ["demo:latest"]), what="v1")
            cur = await client.get("daemonsets", NS, "fluentd-elasticsearch")
            cur.daemon_set.spec.template.spec.containers[0].image = "demo:v2"
            await client.update(cur)
            await eventually(lambda: _images(client, ["demo:v2"]), what="only v2")
        # replay the API's history: the new pod was there before the old one went
        live: dict[str, str] = {}
        side_by_side = False
        for _, resource, ev in client.log:
            if resource != "pods":
                continue
            p = ev.object.pod
            if ev.type == "DELETED" or p.metadata.HasField("deletion_timestamp"):
                live.pop(p.metadata.name, None)
            else:
                live[p.metadata.name] = p.spec.containers[0].image
            side_by_side |= sorted(live.values()) == ["demo:latest", "demo:v2"]
        assert side_by_side

    async def _images(client, want):
        return sorted((await placed(client)).get("n1", [])) == want

    run(main(), timeout=30)


def test_on_delete_and_a_failed_pod_is_replaced():
    async def main():
        client = MemClient()
        await client.create(node("n1"))
        await create(client, with_(DAEMONSET, "spec.updateStrategy", {"type": "OnDelete"}))
        async with running(client, controller()), kubelets(client):
            await eventually(lambda: _images(client, ["demo:latest"]), what="v1")
            cur = await client.get("daemonsets", NS, "fluentd-elasticsearch")
            cur.daemon_set.spec.template.spec.containers[0].image = "demo:v2"
            await client.update(cur)
            await eventually(lambda: _observed(client), what="the change observed")
            assert await _images(client, ["demo:latest"])   # OnDelete: nothing replaced
            old = (await pods(client, NS, SEL))[0]
            await set_phase(client, old, "Failed", exit_code=1)
            await eventually(lambda: _images(client, ["demo:v2"]), what="replaced by v2")
            assert "FailedDaemonPod" in await event_reasons(client, NS)

    async def _images(client, want):
        return sorted((await placed(client)).get("n1", [])) == want

    async def _observed(client):
        d = (await client.get("daemonsets", NS, "fluentd-elasticsearch")).daemon_set
        return d.status.observed_generation == d.metadata.generation

    run(main(), timeout=30)
