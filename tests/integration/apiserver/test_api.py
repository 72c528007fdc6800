"""The Api service through real gRPC on a real port, against a real etcd."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane import errors
from controlplane.apiserver.registry import Registry
from controlplane.apiserver.server import ApiServer
from controlplane.etcd import free_port
from controlplane.store.etcd_store import Store
from proto import agent_pb2, api_pb2, api_pb2_grpc
from tests.support.aio import run
from tests.support.controlplane import ControlPlane
from tests.support.etcd import EtcdProcess

Api = Any  # api_pb2_grpc.ApiStub on an aio channel


def pod(name: str, ns: str = "default", **labels: str) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.pod.metadata.name = name
    obj.pod.metadata.namespace = ns
    obj.pod.metadata.labels.update(labels)
    obj.pod.spec.containers.add(name="c", image="nginx")
    return obj


def namespace(name: str) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.namespace.metadata.name = name
    return obj


def uniq() -> str:
    return "t" + uuid.uuid4().hex[:8]


def with_api(etcd: EtcdProcess, body: Callable[[Api, ControlPlane], Awaitable[None]]) -> None:
    async def main() -> None:
        async with ControlPlane(etcd.endpoint) as cp, \
                grpc.aio.insecure_channel(cp.address) as ch:
            await body(api_pb2_grpc.ApiStub(ch), cp)

    run(main())


async def code_of(call: Awaitable[Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code()


async def new_ns(api: Api) -> str:
    name = uniq()
    await api.Create(api_pb2.CreateRequest(object=namespace(name)))
    return name


def test_crud_and_error_codes(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        ns = await new_ns(api)
        created = await api.Create(api_pb2.CreateRequest(object=pod("web", ns, app="web")))
        m = created.pod.metadata
        assert m.uid and m.resource_version and m.generation == 1
        assert m.HasField("creation_timestamp")
        assert created.pod.api_version == "v1" and created.pod.kind == "Pod"
        assert created.pod.status.phase == "Pending"
        got = await api.Get(api_pb2.GetRequest(resource="pods", namespace=ns, name="web"))
        assert got == created
        assert await code_of(api.Create(api_pb2.CreateRequest(object=pod("web", ns)))) \
            == grpc.StatusCode.ALREADY_EXISTS
        assert await code_of(api.Get(api_pb2.GetRequest(resource="pods", namespace=ns,
                                                       name="nope"))) \
            == grpc.StatusCode.NOT_FOUND
        assert await code_of(api.Get(api_pb2.GetRequest(resource="gizmos", name="x"))) \
            == grpc.StatusCode.NOT_FOUND

        gen = pod("", ns)
        gen.pod.metadata.generate_name = "web-"
        g = await api.Create(api_pb2.CreateRequest(object=gen))
        assert g.pod.metadata.name.startswith("web-") and len(g.pod.metadata.name) == 9

        lst = await api.List(api_pb2.ListRequest(resource="pods", namespace=ns))
        assert sorted(i.pod.metadata.name for i in lst.items) == sorted(
            ["web", g.pod.metadata.name])
        assert int(lst.resource_version) >= int(m.resource_version)
        sel = await api.List(api_pb2.ListRequest(resource="po", namespace=ns,
                                                 label_selector="app=web"))
        assert [i.pod.metadata.name for i in sel.items] == ["web"]
        fsel = await api.List(api_pb2.ListRequest(resource="pods",
                                                  field_selector=f"metadata.namespace={ns}"))
        assert len(fsel.items) == 2
        assert await code_of(api.List(api_pb2.ListRequest(resource="pods",
                                                          label_selector="a in (b"))) \
            == grpc.StatusCode.INVALID_ARGUMENT

        # Conflict -> ABORTED
        stale = api_pb2.Object()
        stale.CopyFrom(created)
        created.pod.metadata.labels["v"] = "2"
        updated = await api.Update(api_pb2.UpdateRequest(object=created))
        assert int(updated.pod.metadata.resource_version) > int(m.resource_version)
        assert updated.pod.metadata.generation == 1   # labels are not spec
        stale.pod.metadata.labels["v"] = "3"
        assert await code_of(api.Update(api_pb2.UpdateRequest(object=stale))) \
            == grpc.StatusCode.ABORTED

        # invalid -> INVALID_ARGUMENT, naming the field
        bad = pod("bad", ns)
        bad.pod.spec.containers[0].name = ""
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await api.Create(api_pb2.CreateRequest(object=bad))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "spec.containers[0].name" in (info.value.details() or "")

        # unscheduled pod: deleted at once
        d = await api.Delete(api_pb2.DeleteRequest(resource="pods", namespace=ns, name="web"))
        assert d.pod.metadata.name == "web"
        assert await code_of(api.Get(api_pb2.GetRequest(resource="pods", namespace=ns,
                                                       name="web"))) \
            == grpc.StatusCode.NOT_FOUND

    with_api(etcd, body)


def test_namespace_must_exist_and_system_namespaces(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await api.Create(api_pb2.CreateRequest(object=pod("x", "no-such-ns")))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert "no-such-ns" in (info.value.details() or "")
        lst = await api.List(api_pb2.ListRequest(resource="namespaces"))
        names = {i.namespace.metadata.name for i in lst.items}
        assert {"default", "corral-system", "corral-node-lease"} <= names
        assert await code_of(api.Delete(api_pb2.DeleteRequest(
            resource="namespaces", name="default"))) == grpc.StatusCode.PERMISSION_DENIED

    with_api(etcd, body)


def test_apply_twice_writes_once(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        ns = await new_ns(api)
        dep = api_pb2.Object()
        d = dep.deployment
        d.metadata.name, d.metadata.namespace = "web", ns
        d.spec.replicas = 2
        d.spec.selector.match_labels["app"] = "web"
        d.spec.template.metadata.labels["app"] = "web"
        d.spec.template.spec.containers.add(name="c", image="nginx:1")
        r1 = await api.Apply(api_pb2.ApplyRequest(object=dep))
        assert r1.result == "created"
        r2 = await api.Apply(api_pb2.ApplyRequest(object=dep))
        assert r2.result == "unchanged"
        assert r2.object.deployment.metadata.resource_version \
            == r1.object.deployment.metadata.resource_version
        # a controller-set status and annotation survive a re-apply
        st = api_pb2.Object()
        st.CopyFrom(r2.object)
        st.deployment.status.replicas = 2
        await api.UpdateStatus(api_pb2.UpdateRequest(object=st))
        d.spec.template.spec.containers[0].image = "nginx:2"
        r3 = await api.Apply(api_pb2.ApplyRequest(object=dep))
        assert r3.result == "configured"
        assert r3.object.deployment.metadata.generation == 2
        assert r3.object.deployment.status.replicas == 2
        r4 = await api.Apply(api_pb2.ApplyRequest(object=dep, dry_run=True))
        assert r4.result == "unchanged"
        d.spec.replicas = 5
        r5 = await api.Apply(api_pb2.ApplyRequest(object=dep, dry_run=True))
        assert r5.result == "configured"
        now = await api.Get(api_pb2.GetRequest(resource="deploy", namespace=ns, name="web"))
        assert now.deployment.spec.replicas == 2   # dry run wrote nothing

    with_api(etcd, body)


def test_two_phase_pod_deletion_and_finalizers(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        ns = await new_ns(api)
        p = await api.Create(api_pb2.CreateRequest(object=pod("bound", ns)))
        b = await api.Bind(api_pb2.BindRequest(namespace=ns, name="bound", node_name="n1"))
        assert b.pod.spec.node_name == "n1"
        assert [(c.type, c.status) for c in b.pod.status.conditions] == [
            ("PodScheduled", "True")]
        assert await code_of(api.Bind(api_pb2.BindRequest(namespace=ns, name="bound",
                                                          node_name="n2"))) \
            == grpc.StatusCode.ABORTED
        # the agent's view: a watch on its node
        watch = api.Watch(api_pb2.WatchRequest(
            resource="pods", field_selector="spec.nodeName=n1",
            resource_version=p.pod.metadata.resource_version))
        ev = await watch.read()
        assert (ev.type, ev.object.pod.metadata.name) == ("ADDED", "bound")

        d = await api.Delete(api_pb2.DeleteRequest(resource="pods", namespace=ns, name="bound"))
        assert d.pod.metadata.HasField("deletion_timestamp")
        assert d.pod.metadata.deletion_grace_period_seconds == 30
        still = await api.Get(api_pb2.GetRequest(resource="pods", namespace=ns, name="bound"))
        assert still.pod.metadata.HasField("deletion_timestamp")
        ev = await watch.read()
        assert ev.type == "MODIFIED" and ev.object.pod.metadata.HasField("deletion_timestamp")
        # the agent confirms
        await api.Delete(api_pb2.DeleteRequest(resource="pods", namespace=ns, name="bound",
                                               grace_period_seconds=0))
        ev = await watch.read()
        assert ev.type == "DELETED"
        assert await code_of(api.Get(api_pb2.GetRequest(resource="pods", namespace=ns,
                                                       name="bound"))) \
            == grpc.StatusCode.NOT_FOUND
        watch.cancel()

        # finalizers hold an object until an update removes the last one
        f = pod("fin", ns)
        f.pod.metadata.finalizers.append("example.com/hold")
        await api.Create(api_pb2.CreateRequest(object=f))
        d = await api.Delete(api_pb2.DeleteRequest(resource="pods", namespace=ns, name="fin",
                                                   propagation_policy="Foreground"))
        assert list(d.pod.metadata.finalizers) == ["example.com/hold", "foregroundDeletion"]
        assert d.pod.metadata.HasField("deletion_timestamp")
        del d.pod.metadata.finalizers[:]
        await api.Update(api_pb2.UpdateRequest(object=d))
        assert await code_of(api.Get(api_pb2.GetRequest(resource="pods", namespace=ns,
                                                       name="fin"))) \
            == grpc.StatusCode.NOT_FOUND

        o = await api.Create(api_pb2.CreateRequest(object=pod("orph", ns)))
        d = await api.Delete(api_pb2.DeleteRequest(resource="pods", namespace=ns, name="orph",
                                                   propagation_policy="Orphan"))
        assert list(d.pod.metadata.finalizers) == ["orphan"]
        assert await code_of(api.Delete(api_pb2.DeleteRequest(
            resource="pods", namespace=ns, name="orph",
            resource_version=o.pod.metadata.resource_version))) == grpc.StatusCode.ABORTED

    with_api(etcd, body)


def test_filtered_watch_added_and_deleted_on_label_change(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        ns = await new_ns(api)
        lst = await api.List(api_pb2.ListRequest(resource="pods", namespace=ns))
        watch = api.Watch(api_pb2.WatchRequest(resource="pods", namespace=ns,
                                               label_selector="tier=front",
                                               resource_version=lst.resource_version))
        a = await api.Create(api_pb2.CreateRequest(object=pod("a", ns, tier="back")))
        a.pod.metadata.labels["tier"] = "front"
        a = await api.Update(api_pb2.UpdateRequest(object=a))
        a.pod.metadata.labels["tier"] = "back"
        a = await api.Update(api_pb2.UpdateRequest(object=a))
        types = [(await watch.read()).type for _ in range(2)]
        assert types == ["ADDED", "DELETED"]
        watch.cancel()

    with_api(etcd, body)


def test_gone_is_out_of_range(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        ns = await new_ns(api)
        first = await api.Create(api_pb2.CreateRequest(object=pod("a", ns)))
        await api.Create(api_pb2.CreateRequest(object=pod("b", ns)))
        assert cp.store is not None
        await cp.store.compact(await cp.store.revision())
        old_rv = str(int(first.pod.metadata.resource_version) - 1)
        watch = api.Watch(api_pb2.WatchRequest(resource="pods", namespace=ns,
                                               resource_version=old_rv))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await watch.read()
        assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE
        assert "too old resource version" in (info.value.details() or "")

    with_api(etcd, body)


def test_health_version_resources_and_restart(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        async with grpc.aio.insecure_channel(cp.address) as ch:
            health = health_pb2_grpc.HealthStub(ch)
            for service in ("", "corral.v1.Api"):
                r = await health.Check(health_pb2.HealthCheckRequest(service=service))
                assert r.status == health_pb2.HealthCheckResponse.SERVING
        v = await api.Version(api_pb2.VersionRequest())
        assert v.version and v.python_version and v.etcd_version.startswith("3.5")
        res = await api.ApiResources(api_pb2.ApiResourcesRequest())
        assert {r.name for r in res.resources} >= {"pods", "nodes", "deployments"}
        ns = await new_ns(api)
        created = [await api.Create(api_pb2.CreateRequest(object=pod(f"p{i}", ns)))
                   for i in range(3)]
        await cp.restart()
        lst = await api.List(api_pb2.ListRequest(resource="pods", namespace=ns))
        assert list(lst.items) == created
        assert await code_of(api.Top(api_pb2.TopRequest(resource="pods", namespace=ns,
                                                         name="p0"))) \
            == grpc.StatusCode.INVALID_ARGUMENT   # not on a node
        # a node whose agent does not answer
        node = api_pb2.Object()
        node.node.metadata.name = uniq()
        node = await api.Create(api_pb2.CreateRequest(object=node))
        node.node.status.addresses.add(type="InternalIP", address="127.0.0.1")
        node.node.status.daemon_endpoints.kubelet_endpoint.port = free_port()
        await api.UpdateStatus(api_pb2.UpdateRequest(object=node))
        await api.Bind(api_pb2.BindRequest(namespace=ns, name="p0",
                                           node_name=node.node.metadata.name))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await api.Top(api_pb2.TopRequest(resource="pods", namespace=ns, name="p0"))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert node.node.metadata.name in (info.value.details() or "")
        logs = api.Logs(agent_pb2.LogsRequest(namespace=ns, pod="p0"))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await logs.read()
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE

    with_api(etcd, body)


def test_concurrent_binds_one_wins(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        ns = await new_ns(api)
        p = await api.Create(api_pb2.CreateRequest(object=pod("race", ns)))
        rv = p.pod.metadata.resource_version
        results = await asyncio.gather(*(
            api.Bind(api_pb2.BindRequest(namespace=ns, name="race", node_name=f"n{i}",
                                         resource_version=rv)) for i in range(5)),
            return_exceptions=True)
        ok = [r for r in results if isinstance(r, api_pb2.Object)]
        assert len(ok) == 1
        assert all(r.code() == grpc.StatusCode.ABORTED for r in results
                   if isinstance(r, grpc.aio.AioRpcError))

    with_api(etcd, body)


def test_namespace_deletion_waits_for_its_content(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        ns = await new_ns(api)
        await api.Create(api_pb2.CreateRequest(object=pod("free", ns)))
        await api.Create(api_pb2.CreateRequest(object=pod("bound", ns)))
        await api.Bind(api_pb2.BindRequest(namespace=ns, name="bound", node_name="n1"))
        d = await api.Delete(api_pb2.DeleteRequest(resource="namespaces", name=ns))
        assert d.namespace.status.phase == "Terminating"
        left = await api.List(api_pb2.ListRequest(resource="pods", namespace=ns))
        assert [p.pod.metadata.name for p in left.items] == ["bound"]
        assert left.items[0].pod.metadata.HasField("deletion_timestamp")
        assert await code_of(api.Create(api_pb2.CreateRequest(object=pod("late", ns)))) \
            == grpc.StatusCode.PERMISSION_DENIED
        await api.Delete(api_pb2.DeleteRequest(resource="pods", namespace=ns, name="bound",
                                               grace_period_seconds=0))
        assert await code_of(api.Get(api_pb2.GetRequest(resource="namespaces", name=ns))) \
            == grpc.StatusCode.NOT_FOUND
        # an empty namespace goes at once
        empty = await new_ns(api)
        await api.Delete(api_pb2.DeleteRequest(resource="namespaces", name=empty))
        assert await code_of(api.Get(api_pb2.GetRequest(resource="namespaces", name=empty))) \
            == grpc.StatusCode.NOT_FOUND

    with_api(etcd, body)


def test_authorize_hook(etcd: EtcdProcess) -> None:
    calls: list[tuple[Any, ...]] = []

    def authorize(verb: str, resource: str, namespace: str, name: str,
                  obj: Any = None, old: Any = None, **kw: Any) -> None:
        calls.append((verb, resource, namespace, name, obj is not None, old is not None))
        if verb == "delete":
            raise errors.Forbidden(f"no deleting {resource} here")

    async def main() -> None:
        store = Store(etcd.endpoint)
        registry = Registry(store)
        await registry.start()
        server = ApiServer(registry, "127.0.0.1:0", authorize=authorize)
        await server.start()
        try:
            async with grpc.aio.insecure_channel(server.address) as ch:
                api: Any = api_pb2_grpc.ApiStub(ch)
                ns = await new_ns(api)
                await api.Create(api_pb2.CreateRequest(object=pod("a", ns)))
                got = await api.Get(api_pb2.GetRequest(resource="po", namespace=ns, name="a"))
                await api.Update(api_pb2.UpdateRequest(object=got))
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await api.Delete(api_pb2.DeleteRequest(resource="pods", namespace=ns,
                                                           name="a"))
                assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
                assert "no deleting pods" in (info.value.details() or "")
        finally:
            await server.stop(0)
            await store.close()
        assert ("create", "pods", ns, "a", True, False) in calls
        assert ("get", "pods", ns, "a", True, False) in calls
        assert ("update", "pods", ns, "a", True, True) in calls
        assert ("delete", "pods", ns, "a", False, True) in calls

    run(main())
