"""Deployments and ReplicaSets on hollow nodes: scale, roll, roll back, history."""

from __future__ import annotations

from controlplane import errors
from proto import api_pb2
from tests.integration.loops.harness import (
    Cluster,
    PodMonitor,
    active,
    deployment,
    deployment_done,
)
from tests.support.aio import eventually, run

REVISION = "deployment.kubernetes.io/revision"


async def set_image(reg, name, image):
    for _ in range(10):
        cur = await reg.get("deployments", "default", name)
        cur.deployment.spec.template.spec.containers[0].image = image
        try:
            await reg.update(cur)
            return
        except errors.Conflict:
            continue
    raise AssertionError("could not update the deployment")


async def set_replicas(reg, name, n):
    for _ in range(10):
        cur = await reg.get("deployments", "default", name)
        cur.deployment.spec.replicas = n
        try:
            await reg.update(cur)
            return
        except errors.Conflict:
            continue
    raise AssertionError("could not update the deployment")


def test_scale_up_and_down(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=3) as c:
            reg = c.registry
            await reg.create(deployment("web", 3))
            await eventually(lambda: deployment_done(reg, "web", 3), timeout=30, what="3 up")
            await set_replicas(reg, "web", 9)
            await eventually(lambda: deployment_done(reg, "web", 9), timeout=30, what="9 up")
            pods = [p for p in await c.pods() if active(p)]
            per_node: dict[str, int] = {}
            for p in pods:
                per_node[p.spec.node_name] = per_node.get(p.spec.node_name, 0) + 1
            assert per_node == {"node-0": 3, "node-1": 3, "node-2": 3}  # spread
            assert all(p.metadata.name.startswith("web-") and len(p.metadata.name.split("-")[-1])
                       == 5 for p in pods)
            await set_replicas(reg, "web", 2)
            await eventually(lambda: deployment_done(reg, "web", 2), timeout=30, what="2 left")

            async def gone():
                return len(await c.pods()) == 2
            await eventually(gone, timeout=30, what="surplus pods confirmed deleted")
            rs = (await reg.list("replicasets", "default")).items
            assert len(rs) == 1
            st = rs[0].replica_set.status
            assert (st.replicas, st.ready_replicas, st.available_replicas,
                    st.fully_labeled_replicas) == (2, 2, 2, 2)
            assert st.observed_generation == rs[0].replica_set.metadata.generation
            cidrs = {o.node.spec.pod_cidr for o in (await reg.list("nodes")).items}
            assert cidrs == {"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"}

    run(main(), timeout=120)


def test_replicaset_adopts_and_releases(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=2) as c:
            reg = c.registry
            orphan = api_pb2.Object()
            orphan.pod.metadata.name = "orphan"
            orphan.pod.metadata.namespace = "default"
            orphan.pod.metadata.labels["app"] = "cache"
            orphan.pod.spec.containers.add(name="c", image="redis")
            await reg.create(orphan)

            async def orphan_bound():
                return (await reg.get("pods", "default", "orphan")).pod.spec.node_name
            # bound means the (shared) pod informer has it, so the RS sees it at once
            # (otherwise the RS may create 3 and then delete one of 4, maybe the orphan)
            await eventually(orphan_bound, timeout=20)
            rs = api_pb2.Object()
            r = rs.replica_set
            r.metadata.name = "cache"
            r.metadata.namespace = "default"
            r.spec.replicas = 3
            r.spec.selector.match_labels["app"] = "cache"
            r.spec.template.metadata.labels["app"] = "cache"
            r.spec.template.spec.containers.add(name="c", image="redis")
            await reg.create(rs)

            async def three():
                pods = [p for p in await c.pods() if active(p)]
                return len(pods) == 3 and all(
                    any(ref.controller and ref.name == "cache"
                        for ref in p.metadata.owner_references) for p in pods)
            await eventually(three, timeout=30, what="orphan adopted, 2 created")
            assert any(p.metadata.name == "orphan" for p in await c.pods())
            # relabel the orphan: released, and replaced
            cur = await reg.get("pods", "default", "orphan")
            cur.pod.metadata.labels["app"] = "other"
            await reg.update(cur)

            async def released():
                pods = {p.metadata.name: p for p in await c.pods() if active(p)}
                owned = [p for p in pods.values() if p.metadata.labels.get("app") == "cache"]
                return ("orphan" in pods and not pods["orphan"].metadata.owner_references
                        and len(owned) == 3)
            await eventually(released, timeout=30, what="released and replaced")

    run(main(), timeout=120)


def test_rolling_update_bounds_and_rollback(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=4) as c:
            reg = c.registry
            await reg.create(deployment("web", 6, image="nginx:1", max_surge=2,
                                        max_unavailable=1, history=1))
            await eventually(lambda: deployment_done(reg, "web", 6), timeout=30)
            mon = PodMonitor(reg, selector="app=web")
            await mon.start()
            await set_image(reg, "web", "nginx:2")
            await eventually(lambda: deployment_done(reg, "web", 6, "nginx:2"), timeout=60,
                             what="rollout to nginx:2")
            await mon.stop()
            assert mon.events > 0
            assert mon.max_active <= 6 + 2, mon.max_active
            assert mon.min_ready is not None and mon.min_ready >= 6 - 1, mon.min_ready
            assert not mon.rebinds
            d = (await reg.get("deployments", "default", "web")).deployment
            assert d.metadata.annotations[REVISION] == "2"
            conds = {x.type: x for x in d.status.conditions}
            assert conds["Available"].status == "True"
            assert conds["Progressing"].reason == "NewReplicaSetAvailable"
            rss = {o.replica_set.metadata.annotations[REVISION]: o.replica_set
                   for o in (await reg.list("replicasets", "default")).items}
            assert set(rss) == {"1", "2"}
            assert rss["1"].spec.replicas == 0
            assert "pod-template-hash" in rss["2"].spec.selector.match_labels
            # rollback: the CLI rewrites the template to revision 1's
            old_t = rss["1"].spec.template
            cur = await reg.get("deployments", "default", "web")
            cur.deployment.spec.template.CopyFrom(old_t)
            del cur.deployment.spec.template.metadata.labels["pod-template-hash"]
            await reg.update(cur)
            mon = PodMonitor(reg, selector="app=web")
            await mon.start()
            await eventually(lambda: deployment_done(reg, "web", 6, "nginx:1"), timeout=60,
                             what="rolled back to nginx:1")
            await mon.stop()
            assert mon.max_active <= 8 and mon.min_ready is not None and mon.min_ready >= 5
            rss = {o.replica_set.metadata.name: o.replica_set
                   for o in (await reg.list("replicasets", "default")).items}
            # the revision-1 RS is re-used under revision 3; history limit 1 keeps one old
            assert len(rss) == 2
            back = [r for r in rss.values() if r.spec.template.spec.containers[0].image ==
                    "nginx:1"]
            assert len(back) == 1 and back[0].metadata.annotations[REVISION] == "3"
            d = (await reg.get("deployments", "default", "web")).deployment
            assert d.metadata.annotations[REVISION] == "3"

    run(main(), timeout=180)


def test_percentages_and_recreate(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=3) as c:
            reg = c.registry
            await reg.create(deployment("pct", 8, image="a:1", max_surge="25%",
                                        max_unavailable="25%"))
            await eventually(lambda: deployment_done(reg, "pct", 8), timeout=30)
            mon = PodMonitor(reg, selector="app=pct")
            await mon.start()
            await set_image(reg, "pct", "a:2")
            await eventually(lambda: deployment_done(reg, "pct", 8, "a:2"), timeout=60)
            await mon.stop()
            assert mon.max_active <= 8 + 2 and (mon.min_ready or 0) >= 8 - 2
            # Recreate: never old and new pods at once
            await reg.create(deployment("rec", 3, image="b:1", strategy="Recreate"))
            await eventually(lambda: deployment_done(reg, "rec", 3), timeout=30)
            mon = PodMonitor(reg, selector="app=rec")
            await mon.start()
            images_seen: list[set[str]] = []
            orig = mon._check

            def check() -> None:
                orig()
                images_seen.append({p.spec.containers[0].image for p in mon.pods.values()})
            mon._check = check  # type: ignore[method-assign]
            await set_image(reg, "rec", "b:2")
            await eventually(lambda: deployment_done(reg, "rec", 3, "b:2"), timeout=60)
            await mon.stop()
            assert all(len(s) <= 1 for s in images_seen), images_seen

    run(main(), timeout=180)


def test_progress_deadline_exceeded(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=1, node_memory="1Gi") as c:
            reg = c.registry
            # cannot fit anywhere: never progresses
            await reg.create(deployment("big", 1, memory="4Gi", progress_deadline=1))

            async def exceeded():
                d = (await reg.get("deployments", "default", "big")).deployment
                return any(x.type == "Progressing" and x.status == "False"
                           and x.reason == "ProgressDeadlineExceeded"
                           for x in d.status.conditions)
            await eventually(exceeded, timeout=30, what="ProgressDeadlineExceeded")
            d = (await reg.get("deployments", "default", "big")).deployment
            avail = next(x for x in d.status.conditions if x.type == "Available")
            assert avail.status == "False"

    run(main(), timeout=60)


def test_paused_deployment_does_not_roll(etcd):
    async def main():
        async with Cluster(etcd.endpoint, nodes=2) as c:
            reg = c.registry
            await reg.create(deployment("p", 2, image="x:1"))
            await eventually(lambda: deployment_done(reg, "p", 2), timeout=30)
            cur = await reg.get("deployments", "default", "p")
            cur.deployment.spec.paused = True
            cur.deployment.spec.template.spec.containers[0].image = "x:2"
            await reg.update(cur)

            async def paused_seen():
                d = (await reg.get("deployments", "default", "p")).deployment
                return d.status.observed_generation == d.metadata.generation and any(
                    x.type == "Progressing" and x.reason == "DeploymentPaused"
                    for x in d.status.conditions)
            await eventually(paused_seen, timeout=20, what="paused observed")
            assert len((await reg.list("replicasets", "default")).items) == 1
            cur = await reg.get("deployments", "default", "p")
            cur.deployment.spec.paused = False
            await reg.update(cur)
            await eventually(lambda: deployment_done(reg, "p", 2, "x:2"), timeout=30,
                             what="resumed rollout")

    run(main(), timeout=60)
