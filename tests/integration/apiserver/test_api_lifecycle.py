"""The Api service through real gRPC against a real etcd: two-phase deletion,
namespace deletion, filtered watches, compacted watches, racing binds."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from proto import api_pb2
from tests.integration.apiserver.apihelpers import (
    Api,
    code_of,
    new_ns,
    pod,
    with_api,
)
from tests.support.controlplane import ControlPlane
from tests.support.etcd import EtcdProcess


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


def test_many_watchers_get_one_encoding_and_filtered_ones_their_own(
        etcd: EtcdProcess) -> None:
    """Unfiltered watchers of one event all get the same bytes, made once; a watcher
    with a selector still gets its own translation (ADDED when a label starts to match)."""
    async def body(api: Api, cp: ControlPlane) -> None:
        ns = await new_ns(api)
        lst = await api.List(api_pb2.ListRequest(resource="pods", namespace=ns))
        plain = [api.Watch(api_pb2.WatchRequest(resource="pods", namespace=ns,
                                                resource_version=lst.resource_version))
                 for _ in range(5)]
        front = api.Watch(api_pb2.WatchRequest(resource="pods", namespace=ns,
                                               label_selector="tier=front",
                                               resource_version=lst.resource_version))
        await api.Create(api_pb2.CreateRequest(object=pod("warm", ns, tier="back")))
        for w in plain:                 # each watcher is live now (past any catch-up read)
            assert (await w.read()).object.pod.metadata.name == "warm"
        assert cp.registry is not None
        hits = cp.registry.encodings.hits
        a = await api.Create(api_pb2.CreateRequest(object=pod("a", ns, tier="back")))
        a.pod.metadata.labels["tier"] = "front"
        a = await api.Update(api_pb2.UpdateRequest(object=a))
        for w in plain:
            got = [await w.read() for _ in range(2)]
            assert [e.type for e in got] == ["ADDED", "MODIFIED"]
            assert got[1].object == a and got[1].resource_version == \
                a.pod.metadata.resource_version
        assert cp.registry.encodings.hits - hits == 2 * 4     # 2 events, 5 watchers each
        ev = await front.read()
        assert (ev.type, ev.object.pod.metadata.labels["tier"]) == ("ADDED", "front")
        for w in [*plain, front]:
            w.cancel()

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
