"""The scheduler's VolumeBinding and NodeAffinity plugins: where a pod with claims may
go, and the node written on its unbound claims before the bind."""

from __future__ import annotations

from controlplane.apiserver import builtins
from controlplane.informer import InformerFactory
from controlplane.scheduler.framework import Code, CycleState, Handle, NodeInfo, Resources
from controlplane.scheduler.plugins import node_affinity, volume_binding
from controlplane.scheduler.resources import pod_info
from controlplane.volumematch import SELECTED_NODE
from proto import api_pb2, core_pb2, storage_pb2
from proto.labels.nodeselector import for_node
from tests.support.aio import eventually, run
from tests.unit.controllers.memclient import MemClient
from tests.unit.workloads.harness import node


def claim(name: str, cls: str | None = "local-path", volume: str = "") -> api_pb2.Object:
    o = api_pb2.Object()
    c = o.persistent_volume_claim
    c.metadata.name, c.metadata.namespace = name, "default"
    if cls is not None:
        c.spec.storage_class_name = cls
    c.spec.volume_name = volume
    c.spec.access_modes.append("ReadWriteOnce")
    c.spec.resources.requests["storage"] = "1Gi"
    return o


def pv(name: str, on: str) -> api_pb2.Object:
    o = api_pb2.Object()
    v = o.persistent_volume
    v.metadata.name = name
    v.spec.node_affinity.required.CopyFrom(for_node(on))
    return o


def pod(*claims: str) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace, p.metadata.uid = "web-0", "default", "u1"
    p.spec.containers.add(name="c", image="demo")
    for i, c in enumerate(claims):
        p.spec.volumes.add(name=f"v{i}").persistent_volume_claim.claim_name = c
    return p


def info(name: str) -> NodeInfo:
    return NodeInfo(node=node(name).node, name=name, allocatable=Resources(4000, 1 << 33, 110))


def test_volume_binding_filter_and_prebind() -> None:
    async def main() -> None:
        client = MemClient()
        for o in builtins.objects():
            await client.create(o)
        wffc_static = storage_pb2.StorageClass(provisioner="kubernetes.io/no-provisioner",
                                               volume_binding_mode="WaitForFirstConsumer")
        wffc_static.metadata.name = "local-storage"
        await client.create(api_pb2.Object(storage_class=wffc_static))
        await client.create(claim("bound", volume="pv-1"))
        await client.create(pv("pv-1", "n1"))
        await client.create(claim("fresh"))
        await client.create(claim("gold", cls="gold"))
        await client.create(claim("static", cls="local-storage"))
        requeued = []
        factory = InformerFactory(client)
        plugin = volume_binding.factory({"handle": Handle(client, factory,
                                                          lambda: requeued.append(1))})
        factory.start()
        await factory.wait_synced()
        n1, n2 = info("n1"), info("n2")

        def check(p: core_pb2.Pod, ni: NodeInfo) -> tuple[Code, str]:
            st = plugin.filter(CycleState(), pod_info(p), ni)
            return st.code, st.message

        assert check(pod("bound"), n1) == (Code.SUCCESS, "")
        assert check(pod("bound"), n2) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                           "node(s) had volume node affinity conflict")
        assert check(pod("fresh"), n2)[0] == Code.SUCCESS      # local-path: any node
        assert check(pod("nope"), n1)[1] == 'persistentvolumeclaim "nope" not found'
        assert check(pod("gold"), n1)[1] == 'storageclass.storage.k8s.io "gold" not found'
        assert check(pod("static"), n1)[1] == \
            "node(s) didn't find available persistent volumes to bind"
        pi = pod_info(pod("fresh", "bound"))
        assert plugin.relevant(pi)
        assert (await plugin.prebind(pi, "n2")).ok
        fresh = (await client.get("persistentvolumeclaims", "default", "fresh"))
        assert fresh.persistent_volume_claim.metadata.annotations[SELECTED_NODE] == "n2"
        bound = (await client.get("persistentvolumeclaims", "default", "bound"))
        assert SELECTED_NODE not in bound.persistent_volume_claim.metadata.annotations
        await eventually(lambda: check(pod("fresh"), n1)[1] ==
                         "node(s) didn't match the node selected for a volume claim",
                         what="the selected node seen by the filter")
        assert requeued        # changes of claims retry unschedulable pods
        await factory.stop()

    run(main(), timeout=20)


def test_node_affinity_required_and_preferred() -> None:
    plugin = node_affinity.factory()
    p = pod()
    na = p.spec.affinity.node_affinity
    term = na.required_during_scheduling_ignored_during_execution.node_selector_terms.add()
    term.match_expressions.add(key="disk", operator="In", values=["ssd"])
    pref = na.preferred_during_scheduling_ignored_during_execution.add(weight=10)
    pref.preference.match_expressions.add(key="zone", operator="In", values=["a"])
    ssd_a = NodeInfo(node=node("x", {"disk": "ssd", "zone": "a"}).node, name="x",
                     allocatable=Resources())
    ssd_b = NodeInfo(node=node("y", {"disk": "ssd", "zone": "b"}).node, name="y",
                     allocatable=Resources())
    hdd = NodeInfo(node=node("z", {"disk": "hdd"}).node, name="z", allocatable=Resources())
    pi = pod_info(p)
    assert plugin.filter(CycleState(), pi, ssd_a).ok
    assert plugin.filter(CycleState(), pi, hdd).code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    scores = [plugin.score(CycleState(), pi, n)[0] for n in (ssd_a, ssd_b)]
    assert plugin.normalize(scores) == [100, 0]
    assert not plugin.relevant(pod_info(pod()))
