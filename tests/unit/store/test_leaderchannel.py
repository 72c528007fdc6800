"""Every etcd call the control plane makes carries `hasleader: true` (a member cut off
from the majority then refuses at once): unary calls and watch streams alike, next to
metadata the caller gives. A real gRPC server on loopback records what arrives."""

from __future__ import annotations

import asyncio

import grpc
from aetcd import rpc

from controlplane.store.etcdclient import open_channel, parse_endpoint


def _pairs(context: grpc.aio.ServicerContext[object, object]) -> set[tuple[str, str]]:
    return {(k, v if isinstance(v, str) else v.decode())
            for k, v in (context.invocation_metadata() or ())}


async def _exchange() -> list[set[tuple[str, str]]]:
    seen: list[set[tuple[str, str]]] = []

    async def range_(req: rpc.RangeRequest,
                     context: grpc.aio.ServicerContext[object, object]) -> rpc.RangeResponse:
        seen.append(_pairs(context))
        return rpc.RangeResponse(count=1)

    async def watch(requests: object, context: grpc.aio.ServicerContext[object, object]
                    ) -> None:
        seen.append(_pairs(context))
        await context.write(rpc.WatchResponse(created=True))

    server = grpc.aio.server()
    server.add_generic_rpc_handlers([
        grpc.method_handlers_generic_handler("etcdserverpb.KV", {
            "Range": grpc.unary_unary_rpc_method_handler(
                range_, rpc.RangeRequest.FromString, rpc.RangeResponse.SerializeToString)}),
        grpc.method_handlers_generic_handler("etcdserverpb.Watch", {
            "Watch": grpc.stream_stream_rpc_method_handler(
                watch, rpc.WatchRequest.FromString, rpc.WatchResponse.SerializeToString)}),
    ])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with open_channel(parse_endpoint(f"127.0.0.1:{port}", None), None) as ch:
            resp = await rpc.KVStub(ch).Range(rpc.RangeRequest(key=b"k"), timeout=5)
            assert resp.count == 1
            await rpc.KVStub(ch).Range(rpc.RangeRequest(key=b"k"), timeout=5,
                                       metadata=(("token", "t1"),))
            call = rpc.WatchStub(ch).Watch(iter([rpc.WatchRequest()]), timeout=5)
            first = await call.read()
            assert isinstance(first, rpc.WatchResponse) and first.created
            call.cancel()
    finally:
        await server.stop(None)
    return seen


def test_every_call_requires_a_leader_beside_the_callers_metadata() -> None:
    plain, with_token, watch = asyncio.run(_exchange())
    assert ("hasleader", "true") in plain
    assert {("hasleader", "true"), ("token", "t1")} <= with_token
    assert ("hasleader", "true") in watch
