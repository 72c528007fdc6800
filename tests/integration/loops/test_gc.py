"""Garbage collection: Background, Foreground and Orphan propagation."""

from __future__ import annotations

from functools import partial

from controlplane import errors
from tests.integration.loops.harness import Cluster, deployment, deployment_done
from tests.support.aio import eventually, run


async def gone(reg, resource, name, ns="default"):
    try:
        await reg.get(resource, ns, name)
    except errors.NotFound:
        return True
    return False


def test_background_foreground_orphan(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=2) as c:
            reg = c.registry
            for n in ("bg", "fg", "orph"):
                await reg.create(deployment(n, 2))
            for n in ("bg", "fg", "orph"):
                await eventually(partial(deployment_done, reg, n, 2), timeout=30)

            async def count(app):
                return len(await c.pods(selector=f"app={app}"))

            # Background: the owner goes at once, the GC removes RS and pods
            await reg.delete("deployments", "default", "bg")
            assert await gone(reg, "deployments", "bg")

            async def bg_clean():
                rs = (await reg.list("replicasets", "default", label_selector="app=bg")).items
                return not rs and await count("bg") == 0
            await eventually(bg_clean, timeout=30, what="background cascade")

            # Foreground: the owner stays (deletionTimestamp) until its dependents are gone
            await reg.delete("deployments", "default", "fg", propagation_policy="Foreground")
            d = (await reg.get("deployments", "default", "fg")).deployment
            assert d.metadata.HasField("deletion_timestamp")
            assert "foregroundDeletion" in d.metadata.finalizers

            async def fg_clean():
                rs = (await reg.list("replicasets", "default", label_selector="app=fg")).items
                return (await gone(reg, "deployments", "fg") and not rs
                        and await count("fg") == 0)
            await eventually(fg_clean, timeout=30, what="foreground cascade")

            # Orphan: the owner goes, the dependents stay without its ownerReference
            rs_name = (await reg.list("replicasets", "default",
                                      label_selector="app=orph")).items[0].replica_set.metadata.name
            await reg.delete("deployments", "default", "orph", propagation_policy="Orphan")
            await eventually(lambda: gone(reg, "deployments", "orph"), timeout=30)
            rs = (await reg.get("replicasets", "default", rs_name)).replica_set
            assert not rs.metadata.owner_references
            assert await count("orph") == 2
            # and the orphaned RS still runs its pods; deleting it orphaning its pods too
            await reg.delete("replicasets", "default", rs_name, propagation_policy="Orphan")
            await eventually(lambda: gone(reg, "replicasets", rs_name), timeout=30)
            pods = await c.pods(selector="app=orph")
            assert len(pods) == 2 and all(not p.metadata.owner_references for p in pods)

    run(main(), timeout=120)
