"""Writes that skip a read or share a transaction, against a real etcd: the
namespace guard on create, binding from the caller's copy, bind_all, create_all."""

from __future__ import annotations

import uuid

import pytest

from controlplane import errors
from controlplane.apiserver.registry import Registry
from controlplane.store.etcd_store import Store
from proto import api_pb2
from tests.support.aio import run
from tests.support.etcd import EtcdProcess


def pod(name: str, ns: str) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.pod.metadata.name = name
    obj.pod.metadata.namespace = ns
    obj.pod.spec.containers.add(name="c", image="nginx")
    return obj


def event(name: str, ns: str) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.event.metadata.name = name
    obj.event.metadata.namespace = ns
    obj.event.involved_object.kind = "Pod"
    obj.event.involved_object.name = name
    obj.event.reason = "Test"
    return obj


async def new_ns(reg: Registry) -> str:
    obj = api_pb2.Object()
    obj.namespace.metadata.name = "t" + uuid.uuid4().hex[:8]
    await reg.create(obj)
    return obj.namespace.metadata.name


def with_registries(etcd: EtcdProcess, body) -> None:
    """Two registries (two control-plane replicas: two namespace caches), one etcd."""
    async def main() -> None:
        a, b = Store(etcd.endpoint), Store(etcd.endpoint)
        try:
            await body(Registry(a), Registry(b))
        finally:
            await a.close()
            await b.close()

    run(main())


def test_create_sees_a_namespace_terminated_by_another_replica(etcd: EtcdProcess) -> None:
    async def body(a: Registry, b: Registry) -> None:
        ns = await new_ns(a)
        await a.create(pod("first", ns))           # a now remembers ns as open
        await b.delete("namespaces", "", ns)       # b: the namespace is Terminating
        with pytest.raises((errors.Forbidden, errors.NotFound)):
            await a.create(pod("late", ns))
        with pytest.raises(errors.NotFound):
            await a.get("pods", ns, "late")

    with_registries(etcd, body)


def test_bind_from_a_stale_copy_is_a_conflict_and_binds_nothing(etcd: EtcdProcess) -> None:
    async def body(a: Registry, b: Registry) -> None:
        ns = await new_ns(a)
        seen = await a.create(pod("p", ns))
        rv = seen.pod.metadata.resource_version
        bound = await a.bind(ns, "p", "n1", resource_version=rv, current=seen)
        assert bound.pod.spec.node_name == "n1"
        assert any(c.type == "PodScheduled" and c.status == "True"
                   for c in bound.pod.status.conditions)
        # the same stale copy again, to another node: the object moved on
        with pytest.raises(errors.Conflict):
            await b.bind(ns, "p", "n2", resource_version=rv, current=seen)
        assert (await a.get("pods", ns, "p")).pod.spec.node_name == "n1"

    with_registries(etcd, body)


def test_bind_all_is_all_or_nothing(etcd: EtcdProcess) -> None:
    async def body(a: Registry, b: Registry) -> None:
        ns = await new_ns(a)
        p1, p2, p3 = [await a.create(pod(f"p{i}", ns)) for i in (1, 2, 3)]
        out = await a.bind_all([(p1, "n1"), (p2, "n2")])
        assert [o.pod.spec.node_name for o in out] == ["n1", "n2"]
        assert len({o.pod.metadata.resource_version for o in out}) == 1  # one revision
        # p3 changes under us (b binds it): a batch with its old copy writes nothing
        await b.bind(ns, "p3", "n9")
        p4 = await a.create(pod("p4", ns))
        with pytest.raises(errors.Conflict):
            await a.bind_all([(p4, "n1"), (p3, "n1")])
        assert not (await a.get("pods", ns, "p4")).pod.spec.node_name
        assert (await a.get("pods", ns, "p3")).pod.spec.node_name == "n9"

    with_registries(etcd, body)


def test_create_all_is_all_or_nothing_and_validates(etcd: EtcdProcess) -> None:
    async def body(a: Registry, b: Registry) -> None:
        ns = await new_ns(a)
        made = await a.create_all([event("e1", ns), event("e2", ns)])
        assert [m.event.metadata.name for m in made] == ["e1", "e2"]
        assert all(m.event.metadata.uid for m in made)
        with pytest.raises(errors.AlreadyExists):
            await a.create_all([event("e3", ns), event("e1", ns)])
        with pytest.raises(errors.NotFound):
            await a.get("events", ns, "e3")
        bad = event("e4", ns)
        bad.event.metadata.name = "Not_A_Name"
        with pytest.raises(errors.Invalid):
            await a.create_all([event("e5", ns), bad])
        await b.delete("namespaces", "", ns)      # a's cache still says open
        with pytest.raises((errors.Conflict, errors.Forbidden)):
            await a.create_all([event("e6", ns), event("e7", ns)])
        with pytest.raises(errors.NotFound):
            await a.get("events", ns, "e6")

    with_registries(etcd, body)


def test_update_from_a_remembered_version_still_conflicts_when_stale(etcd: EtcdProcess) -> None:
    """A status update that names a version this replica wrote itself skips the read,
    yet another replica's write in between is still a Conflict, and no write lands."""
    async def body(a: Registry, b: Registry) -> None:
        ns = await new_ns(a)
        created = await a.create(pod("p", ns))       # a remembers this version
        fresh = a.store.cached("pods", ns, "p", created.pod.metadata.resource_version)
        assert fresh is not None and fresh.pod.metadata.uid == created.pod.metadata.uid
        gets = a.store.recent.hits
        upd = api_pb2.Object()
        upd.CopyFrom(created)
        upd.pod.status.phase = "Running"
        running = await a.update_status(upd)          # from the remembered copy
        assert a.store.recent.hits == gets + 1
        assert running.pod.status.phase == "Running"
        other = api_pb2.Object()
        other.CopyFrom(running)
        other.pod.metadata.labels["by"] = "b"
        moved = await b.update(other)                  # the other replica writes
        stale = api_pb2.Object()
        stale.CopyFrom(running)                        # a's copy, now one version behind
        stale.pod.status.phase = "Failed"
        with pytest.raises(errors.Conflict):
            await a.update_status(stale)
        same = api_pb2.Object()
        same.CopyFrom(running)                         # a no-op with the stale version
        with pytest.raises(errors.Conflict):
            await a.update_status(same)
        now = await b.get("pods", ns, "p")
        assert now.pod.status.phase == "Running" and now.pod.metadata.labels["by"] == "b"
        assert now.pod.metadata.resource_version == moved.pod.metadata.resource_version

    with_registries(etcd, body)
