"""The volume controller over the in-memory Client: the default local-path class,
WaitForFirstConsumer provisioning on the selected node, static volumes, reclaim
policies, pvc-protection, and claims that cannot be served."""

from __future__ import annotations

from controlplane.apiserver import builtins
from controlplane.controllers.volumes import VolumeController
from controlplane.profiles import DEMO
from controlplane.volumematch import (
    LOCAL_PATH_FINALIZER,
    LOCAL_PATH_ROOT,
    PVC_PROTECTION,
    SELECTED_NODE,
)
from proto import api_pb2
from tests.support.aio import eventually, run
from tests.unit.controllers.memclient import MemClient
from tests.unit.schema.validation_cases import with_
from tests.unit.workloads.harness import create, event_reasons, node, running
from tests.unit.workloads.manifests import PV, PVC, STORAGECLASS


def controller():
    return lambda c, f, r: VolumeController(c, f, recorder=r, profile=DEMO)


async def claim(client, name="myclaim"):
    return (await client.get("persistentvolumeclaims", "default", name)).persistent_volume_claim


async def volumes(client):
    return {o.persistent_volume.metadata.name: o.persistent_volume
            for o in (await client.list("persistentvolumes")).items}


async def setup(client, root="/var/lib/corral/n1/local-path"):
    n = node("n1")
    n.node.metadata.annotations[LOCAL_PATH_ROOT] = root
    await client.create(n)
    for o in builtins.objects():
        await create(client, _doc(o))


def _doc(o: api_pb2.Object) -> dict:
    from proto import codec
    return codec.encode(o)


async def select_node(client, name="myclaim", node_name="n1"):
    cur = await client.get("persistentvolumeclaims", "default", name)
    cur.persistent_volume_claim.metadata.annotations[SELECTED_NODE] = node_name
    await client.update(cur)


def test_local_path_provisions_on_the_selected_node_and_deletes_after_the_claim():
    async def main():
        client = MemClient()
        await setup(client)
        await create(client, PVC)
        async with running(client, controller()):
            c = await eventually(lambda: _classed(client), what="the default class")
            assert PVC_PROTECTION in c.metadata.finalizers
            await eventually(lambda: _reason(client, "WaitForFirstConsumer"), what="waiting")
            assert not await volumes(client)
            await select_node(client)
            c = await eventually(lambda: _bound(client), what="Bound")
            pv = (await volumes(client))[c.spec.volume_name]
            assert pv.metadata.name == f"pvc-{c.metadata.uid}"
            assert pv.spec.host_path.path == \
                f"/var/lib/corral/n1/local-path/pvc-{c.metadata.uid}_default_myclaim"
            want = pv.spec.node_affinity.required.node_selector_terms[0].match_expressions[0]
            assert (want.key, list(want.values)) == ("kubernetes.io/hostname", ["n1"])
            assert pv.spec.persistent_volume_reclaim_policy == "Delete"
            assert LOCAL_PATH_FINALIZER in pv.metadata.finalizers
            assert (c.status.phase, c.status.capacity["storage"]) == ("Bound", "8Gi")
            assert "ProvisioningSucceeded" in await event_reasons(client)
            # a pod uses the claim: deleting the claim waits for it (pvc-protection)
            pod = api_pb2.Object()
            pod.pod.metadata.name, pod.pod.metadata.namespace = "user", "default"
            pod.pod.spec.volumes.add(name="d").persistent_volume_claim.claim_name = "myclaim"
            pod.pod.status.phase = "Running"
            pod.pod.spec.node_name = "n1"
            await client.create(pod)
            await client.delete("persistentvolumeclaims", "default", "myclaim")
            await eventually(lambda: _deleting(client), what="claim terminating")
            await client.delete("pods", "default", "user")
            await eventually(lambda: _no_claim(client), what="claim gone after its pod")
            # Delete: the volume goes too (its node removes the directory, then the finalizer)
            pv = await eventually(lambda: _volume_deleting(client, pv.metadata.name),
                                  what="volume deleted")
            assert pv.status.phase == "Released"

    async def _classed(client):
        c = await claim(client)
        return c if c.spec.storage_class_name == "local-path" else None

    async def _reason(client, r):
        return r in await event_reasons(client)

    async def _bound(client):
        c = await claim(client)
        return c if c.status.phase == "Bound" else None

    async def _deleting(client):
        return (await claim(client)).metadata.HasField("deletion_timestamp")

    async def _no_claim(client):
        return not (await client.list("persistentvolumeclaims", "default")).items

    async def _volume_deleting(client, name):
        pv = (await volumes(client)).get(name)
        return pv if pv is not None and pv.metadata.HasField("deletion_timestamp") else None

    run(main(), timeout=30)


def test_retain_keeps_the_volume_released():
    async def main():
        client = MemClient()
        await setup(client)
        await create(client, with_(with_(STORAGECLASS, "reclaimPolicy", "Retain"),
                                   "provisioner", "corral.dev/local-path"))
        await create(client, with_(PVC, "spec.storageClassName", "local-storage"))
        async with running(client, controller()):
            await select_node(client)
            c = await eventually(lambda: _bound(client), what="Bound")
            await client.delete("persistentvolumeclaims", "default", "myclaim")
            pv = await eventually(lambda: _released(client, c.spec.volume_name),
                                  what="Released")
            assert not pv.metadata.HasField("deletion_timestamp")

    async def _bound(client):
        c = await claim(client)
        return c if c.status.phase == "Bound" else None

    async def _released(client, name):
        pv = (await volumes(client))[name]
        return pv if pv.status.phase == "Released" else None

    run(main(), timeout=30)


def test_a_static_volume_binds_the_smallest_fit_and_bad_claims_wait_with_reasons():
    async def main():
        client = MemClient()
        await setup(client)
        big = with_(with_(PV, "metadata.name", "big"), "spec.capacity", {"storage": "100Gi"})
        small = with_(with_(PV, "metadata.name", "small"), "spec.capacity", {"storage": "10Gi"})
        tiny = with_(with_(PV, "metadata.name", "tiny"), "spec.capacity", {"storage": "1Gi"})
        for doc in (big, small, tiny):
            await create(client, with_(doc, "spec.storageClassName", ""))
        await create(client, with_(PVC, "spec.storageClassName", ""))
        await create(client, with_(with_(PVC, "metadata.name", "nowhere"),
                                   "spec.storageClassName", "gold"))
        async with running(client, controller()):
            c = await eventually(lambda: _bound(client), what="Bound")
            assert c.spec.volume_name == "small"
            vols = await volumes(client)
            assert vols["small"].status.phase == "Bound"
            assert vols["small"].spec.claim_ref.uid == c.metadata.uid
            assert vols["big"].status.phase == "Available"
            await eventually(lambda: _said(client, 'storageclass.storage.k8s.io "gold" not '
                                                   "found"), what="missing class")
            assert (await claim(client, "nowhere")).status.phase == "Pending"

    async def _bound(client):
        c = await claim(client)
        return c if c.status.phase == "Bound" else None

    async def _said(client, text):
        return any(text in e.event.message for e in
                   (await client.list("events", "default")).items)

    run(main(), timeout=30)
