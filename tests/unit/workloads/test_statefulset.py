"""The StatefulSet controller over the in-memory Client, the nodes played by the test:
stable names and storage, ordered scaling, partitioned rolling updates, retention."""

from __future__ import annotations

from controlplane.controllers.statefulset import StatefulSetController
from controlplane.profiles import DEMO
from proto import api_pb2
from tests.support.aio import eventually, run
from tests.unit.controllers.memclient import MemClient
from tests.unit.schema.validation_cases import with_
from tests.unit.workloads.harness import create, event_reasons, kubelets, pods, running, set_phase
from tests.unit.workloads.manifests import STATEFULSET

QUICK = with_(STATEFULSET, "spec.minReadySeconds", 0)


def controller():
    return lambda c, f, r: StatefulSetController(c, f, recorder=r, profile=DEMO)


async def names(client) -> list[str]:
    return sorted(p.metadata.name for p in await pods(client, "default", "app=nginx"))


async def images(client) -> dict[str, str]:
    return {p.metadata.name: p.spec.containers[0].image
            for p in await pods(client, "default", "app=nginx")}


async def status(client):
    return (await client.get("statefulsets", "default", "web")).stateful_set.status


async def scale(client, n):
    cur = await client.get("statefulsets", "default", "web")
    cur.stateful_set.spec.replicas = n
    await client.update(cur)


def created_order(client, resource="pods") -> list[str]:
    return [ev.object.pod.metadata.name for _, r, ev in client.log
            if r == resource and ev.type == "ADDED"]


def deleted_order(client) -> list[str]:
    return [ev.object.pod.metadata.name for _, r, ev in client.log
            if r == "pods" and ev.type == "DELETED"]


def test_ordered_ready_creates_one_at_a_time_with_identity_and_storage():
    async def main():
        client = MemClient()
        await create(client, QUICK)
        async with running(client, controller()):
            await eventually(lambda: _is(client, ["web-0"]), what="web-0")
            web0 = (await pods(client))[0]
            assert (web0.spec.hostname, web0.spec.subdomain) == ("web-0", "nginx")
            assert web0.metadata.labels["statefulset.kubernetes.io/pod-name"] == "web-0"
            assert web0.metadata.labels["apps.kubernetes.io/pod-index"] == "0"
            vol = {v.name: v.persistent_volume_claim.claim_name for v in web0.spec.volumes}
            assert vol == {"www": "www-web-0"}
            claim = (await client.get("persistentvolumeclaims", "default", "www-web-0")
                     ).persistent_volume_claim
            assert claim.metadata.labels["app"] == "nginx"
            assert claim.spec.resources.requests["storage"] == "1Gi"
            assert await names(client) == ["web-0"]   # web-1 waits for web-0 to be ready
            async with kubelets(client, default_node="n1"):
                await eventually(lambda: _is(client, ["web-0", "web-1", "web-2"]),
                                 what="3 pods")
                st = await eventually(lambda: _ready(client, 3), what="3 ready")
                assert st.current_revision == st.update_revision
            assert created_order(client) == ["web-0", "web-1", "web-2"]
            claims = created_order(client, "persistentvolumeclaims")
            assert len(claims) == 3

    async def _is(client, want):
        return await names(client) == want

    async def _ready(client, n):
        st = await status(client)
        return st if st.ready_replicas == n else None

    run(main(), timeout=30)


def test_scale_down_in_reverse_order_and_parallel_scale_up():
    async def main():
        client = MemClient()
        await create(client, with_(QUICK, "spec.podManagementPolicy", "Parallel"))
        async with running(client, controller()):
            # Parallel: all three at once, nobody ready yet
            await eventually(lambda: _is(client, ["web-0", "web-1", "web-2"]), what="3 pods")
        cur = await client.get("statefulsets", "default", "web")
        cur.stateful_set.spec.pod_management_policy = "OrderedReady"
        client.objs[("statefulsets", "default", "web")] = cur   # (immutable via the API)
        async with running(client, controller()), kubelets(client, default_node="n1"):
            await eventually(lambda: _ready(client, 3), what="3 ready")
            await scale(client, 1)
            await eventually(lambda: _is(client, ["web-0"]), what="scaled down to 1")
        assert deleted_order(client) == ["web-2", "web-1"]
        # the claims stay (whenScaled: Retain)
        claims = [o.persistent_volume_claim.metadata.name for o in
                  (await client.list("persistentvolumeclaims", "default")).items]
        assert sorted(claims) == ["www-web-0", "www-web-1", "www-web-2"]

    async def _is(client, want):
        return await names(client) == want

    async def _ready(client, n):
        return (await status(client)).ready_replicas == n

    run(main(), timeout=30)


def test_rolling_update_with_partition_and_recreation_at_the_current_revision():
    async def main():
        client = MemClient()
        await create(client, with_(QUICK, "spec.updateStrategy",
                                   {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
        async with running(client, controller()), kubelets(client, default_node="n1"):
            await eventually(lambda: _ready(client, 3), what="3 ready")
            cur = await client.get("statefulsets", "default", "web")
            cur.stateful_set.spec.template.spec.containers[0].image = "demo:v2"
            await client.update(cur)
            want = {"web-0": "demo:latest", "web-1": "demo:v2", "web-2": "demo:v2"}
            await eventually(lambda: _images(client, want), what="ordinals >= 1 updated")
            await eventually(lambda: _ready(client, 3), what="3 ready again")
            assert deleted_order(client) == ["web-2", "web-1"]   # highest ordinal first
            st = await status(client)
            assert st.current_revision != st.update_revision and st.updated_replicas == 2
            web0 = (await client.get("pods", "default", "web-0")).pod
            await client.delete("pods", "default", "web-0")   # below the partition:
            await eventually(lambda: _recreated(client, web0.metadata.uid), what="web-0")
            assert (await images(client))["web-0"] == "demo:latest"   # the current revision
            cur = await client.get("statefulsets", "default", "web")
            cur.stateful_set.spec.update_strategy.rolling_update.partition = 0
            await client.update(cur)
            await eventually(lambda: _images(client, {k: "demo:v2" for k in want}),
                             what="all updated")
            st = await eventually(lambda: _current_is_update(client), what="rollout done")
            assert st.current_replicas == 3

    async def _ready(client, n):
        return (await status(client)).ready_replicas == n

    async def _images(client, want):
        return await images(client) == want

    async def _recreated(client, uid):
        ps = {p.metadata.name: p for p in await pods(client)}
        return "web-0" in ps and ps["web-0"].metadata.uid != uid

    async def _current_is_update(client):
        st = await status(client)
        return st if st.current_revision == st.update_revision and \
            st.ready_replicas == 3 else None

    run(main(), timeout=30)


def test_claims_survive_pod_deletion_and_retention_policy_owners():
    async def main():
        client = MemClient()
        doc = with_(with_(QUICK, "spec.replicas", 2),
                    "spec.persistentVolumeClaimRetentionPolicy",
                    {"whenDeleted": "Delete", "whenScaled": "Delete"})
        sts = await create(client, doc)
        async with running(client, controller()), kubelets(client, default_node="n1"):
            await eventually(lambda: _ready(client, 2), what="2 ready")
            claim0 = (await client.get("persistentvolumeclaims", "default", "www-web-0")
                      ).persistent_volume_claim
            assert [(r.kind, r.uid) for r in claim0.metadata.owner_references] == [
                ("StatefulSet", sts.stateful_set.metadata.uid)]
            await client.delete("pods", "default", "web-0")
            await eventually(lambda: _ready(client, 2), what="web-0 back")
            again = (await client.get("persistentvolumeclaims", "default", "www-web-0")
                     ).persistent_volume_claim
            assert again.metadata.uid == claim0.metadata.uid      # the same claim, its data
            web1 = (await client.get("pods", "default", "web-1")).pod
            await scale(client, 1)
            await eventually(lambda: _gone(client, "web-1"), what="web-1 gone")
        claim1 = (await client.get("persistentvolumeclaims", "default", "www-web-1")
                  ).persistent_volume_claim
        assert [(r.kind, r.uid) for r in claim1.metadata.owner_references] == [
            ("Pod", web1.metadata.uid)]             # the garbage collector deletes it

    async def _ready(client, n):
        return (await status(client)).ready_replicas == n

    async def _gone(client, name):
        return name not in await names(client)

    run(main(), timeout=30)


def test_a_pod_whose_local_volume_is_on_a_lost_node_waits_and_says_so():
    async def main():
        client = MemClient()
        await create(client, with_(QUICK, "spec.replicas", 1))
        pv = api_pb2.Object()
        pv.persistent_volume.metadata.name = "pvc-123"
        req = pv.persistent_volume.spec.node_affinity.required.node_selector_terms.add()
        req.match_expressions.add(key="kubernetes.io/hostname", operator="In",
                                  values=["node-3"])
        await client.create(pv)
        claim = api_pb2.Object()
        claim.persistent_volume_claim.metadata.name = "www-web-0"
        claim.persistent_volume_claim.metadata.namespace = "default"
        claim.persistent_volume_claim.spec.volume_name = "pvc-123"
        await client.create(claim)
        async with running(client, controller()):
            await eventually(lambda: names(client), what="web-0")
            web0 = (await pods(client))[0]
            await set_phase(client, web0, "Pending")
            cur = await client.get("pods", "default", "web-0")
            cur.pod.status.conditions.add(type="PodScheduled", status="False",
                                          reason="Unschedulable")
            await client.update_status(cur)
            await eventually(lambda: _reason(client, "VolumeNodeUnavailable"), what="event")
        msgs = [e.event.message for e in (await client.list("events", "default")).items
                if e.event.reason == "VolumeNodeUnavailable"]
        assert "waits for node node-3" in msgs[0] and "which is gone" in msgs[0]

    async def _reason(client, reason):
        return reason in await event_reasons(client)

    run(main(), timeout=30)
