"""The Api service through real gRPC on a real port, against a real etcd: objects,
their error codes, apply, health and version, the authorization hook."""

from __future__ import annotations

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
from tests.integration.apiserver.apihelpers import (
    Api,
    code_of,
    new_ns,
    pod,
    uniq,
    with_api,
)
from tests.support.aio import run
from tests.support.controlplane import ControlPlane
from tests.support.etcd import EtcdProcess


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
