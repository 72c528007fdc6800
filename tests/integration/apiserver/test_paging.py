"""Lists in pages (limit and continue) through the Api service against a real etcd: the
pages add up to one list read at one revision, selectors fill pages, bad and compacted
tokens are refused."""

from __future__ import annotations

import grpc
from aetcd import rpc

from proto import api_pb2
from tests.integration.apiserver.apihelpers import Api, code_of, new_ns, pod, with_api
from tests.support.controlplane import ControlPlane
from tests.support.etcd import EtcdProcess


async def pages(api: Api, ns: str, limit: int, selector: str = "") -> list[api_pb2.ObjectList]:
    out = []
    token = ""
    while True:
        page = await api.List(api_pb2.ListRequest(resource="pods", namespace=ns, limit=limit,
                                                  continue_token=token, label_selector=selector))
        out.append(page)
        token = page.continue_token
        if not token:
            return out


def names(lists: list[api_pb2.ObjectList]) -> list[str]:
    return [o.pod.metadata.name for lst in lists for o in lst.items]


def test_pages_add_up_to_one_consistent_list(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        ns = await new_ns(api)
        for i in range(7):
            await api.Create(api_pb2.CreateRequest(
                object=pod(f"p{i}", ns, parity="even" if i % 2 == 0 else "odd")))
        whole = await api.List(api_pb2.ListRequest(resource="pods", namespace=ns))
        lists = await pages(api, ns, 3)
        assert [len(p.items) for p in lists] == [3, 3, 1]
        assert names(lists) == [o.pod.metadata.name for o in whole.items]
        assert [p.remaining_item_count for p in lists[:2]] == [4, 1]
        assert not lists[-1].HasField("remaining_item_count")

        # a page read after a change still shows the first page's revision
        first = await api.List(api_pb2.ListRequest(resource="pods", namespace=ns, limit=4))
        await api.Create(api_pb2.CreateRequest(object=pod("p9", ns)))
        await api.Delete(api_pb2.DeleteRequest(resource="pods", namespace=ns, name="p5",
                                               grace_period_seconds=0))
        rest = await api.List(api_pb2.ListRequest(resource="pods", namespace=ns, limit=10,
                                                  continue_token=first.continue_token))
        assert names([first, rest]) == [f"p{i}" for i in range(7)]
        assert rest.resource_version == first.resource_version and not rest.continue_token

        # a selector fills each page from as many reads as it takes
        even = await pages(api, ns, 2, "parity=even")
        assert names(even) == ["p0", "p2", "p4", "p6"]
        assert [len(p.items) for p in even[:2]] == [2, 2]     # full pages (a last one may
        # come back empty: the rest matched nothing)
        assert not any(p.HasField("remaining_item_count") for p in even)

    with_api(etcd, body)


def test_bad_and_compacted_tokens(etcd: EtcdProcess) -> None:
    async def body(api: Api, cp: ControlPlane) -> None:
        ns = await new_ns(api)
        other = await new_ns(api)
        for i in range(3):
            await api.Create(api_pb2.CreateRequest(object=pod(f"p{i}", ns)))
        first = await api.List(api_pb2.ListRequest(resource="pods", namespace=ns, limit=1))
        assert await code_of(api.List(api_pb2.ListRequest(
            resource="pods", namespace=ns, continue_token="not-a-token"))) == \
            grpc.StatusCode.INVALID_ARGUMENT
        # a token of one namespace's list does not read another's
        assert await code_of(api.List(api_pb2.ListRequest(
            resource="pods", namespace=other, continue_token=first.continue_token))) == \
            grpc.StatusCode.INVALID_ARGUMENT
        await api.Create(api_pb2.CreateRequest(object=pod("late", ns)))
        assert cp.store is not None
        kv = await cp.store.conn.kv()
        await kv.Compact(rpc.CompactionRequest(revision=await cp.store.revision(),
                                               physical=True))
        try:
            await api.List(api_pb2.ListRequest(resource="pods", namespace=ns,
                                               continue_token=first.continue_token))
            raise AssertionError("a compacted revision was read")
        except grpc.aio.AioRpcError as e:
            assert e.code() == grpc.StatusCode.OUT_OF_RANGE
            assert "continue parameter is too old" in (e.details() or "")

    with_api(etcd, body)
