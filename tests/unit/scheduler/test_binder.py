"""Binder: queued binds share a transaction; a failed batch falls back to one by one."""

from __future__ import annotations

import asyncio

import pytest

from controlplane import errors
from controlplane.scheduler.binder import Binder
from proto import api_pb2
from tests.support.aio import run


def pod(name: str, rv: str = "5") -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.pod.metadata.namespace = "default"
    obj.pod.metadata.name = name
    obj.pod.metadata.resource_version = rv
    return obj


class SingleRegistry:
    """Pods at resourceVersion "5" are current; anything else is stale. Cannot batch
    (like a client of an API without batched binds)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.singles: list[str] = []

    async def bind(self, namespace, name, node, resource_version="", current=None):
        await asyncio.sleep(0)
        self.singles.append(name)
        if resource_version != "5":
            raise errors.Conflict(f"{name} changed")
        return _bound(current, node)

    async def bind_all(self, items):
        raise errors.BadRequest("batched binds are not supported")


class FakeRegistry(SingleRegistry):
    async def bind_all(self, items):
        await asyncio.sleep(0)
        if any(obj.pod.metadata.resource_version != "5" for obj, _ in items):
            raise errors.Conflict("one changed")
        self.batches.append([obj.pod.metadata.name for obj, _ in items])
        return [_bound(obj, node) for obj, node in items]


def _bound(obj: api_pb2.Object, node: str) -> api_pb2.Object:
    out = api_pb2.Object()
    out.CopyFrom(obj)
    out.pod.spec.node_name = node
    return out


def test_binds_that_queue_up_share_one_transaction():
    async def main():
        reg = FakeRegistry()
        b = Binder(reg, max_batch=8, max_in_flight=1)
        out = await asyncio.gather(*(b.bind(pod(f"p{i}"), "n1") for i in range(20)))
        assert [o.pod.spec.node_name for o in out] == ["n1"] * 20
        assert sorted(n for batch in reg.batches for n in batch) == sorted(
            f"p{i}" for i in range(20))
        assert all(len(batch) <= 8 for batch in reg.batches)
        assert len(reg.batches) < 20 and b.batched == sum(map(len, reg.batches))
        await b.close()

    run(main(), timeout=10)


def test_a_stale_pod_fails_alone_the_others_are_bound():
    async def main():
        reg = FakeRegistry()
        b = Binder(reg, max_batch=8, max_in_flight=1)
        pods = [pod("a"), pod("stale", rv="3"), pod("c")]
        results = await asyncio.gather(*(b.bind(p, "n1") for p in pods),
                                       return_exceptions=True)
        assert isinstance(results[1], errors.Conflict)
        assert [r.pod.spec.node_name for r in (results[0], results[2])] == ["n1", "n1"]
        assert "stale" in reg.singles
        await b.close()

    run(main(), timeout=10)


def test_a_client_that_cannot_batch_binds_one_at_a_time():
    async def main():
        reg = SingleRegistry()
        b = Binder(reg)
        out = await asyncio.gather(*(b.bind(pod(f"p{i}"), "n2") for i in range(5)))
        assert {o.pod.spec.node_name for o in out} == {"n2"}
        assert sorted(reg.singles) == [f"p{i}" for i in range(5)]
        with pytest.raises(errors.Conflict):
            await b.bind(pod("old", rv="1"), "n2")
        await b.close()

    run(main(), timeout=10)
