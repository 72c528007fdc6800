"""gRPC watch events serialized once for every watcher that gets them unchanged.

A store event reaches each watcher of its resource as the same StoreEvent object
(controlplane/store/watch.py: one etcd watch per resource, fanned out). A watcher
without label or field selectors sends it as it is, so its bytes are the same
for all of them: `Encodings.shared` makes them once (a bounded map from the
event's identity, holding the event so that the identity is not reused) and the
gRPC Watch answers with those bytes (`PASS_BYTES`, set on the Watch method by
`WatchWire`, the server's innermost interceptor). Watchers with selectors, and
bookmarks, are serialized each for itself. To 1,000 watchers an event used to be
built and serialized 1,000 times.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import grpc

from controlplane.rpc import Wrapped
from controlplane.store.watch import StoreEvent
from proto import api_pb2

WATCH_METHOD = "/corral.v1.Api/Watch"


class Encodings:
    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._done: OrderedDict[int, tuple[StoreEvent, bytes]] = OrderedDict()
        self.hits = 0

    def shared(self, ev: StoreEvent) -> bytes:
        """The WatchEvent of `ev` as an unfiltered watcher gets it, serialized once."""
        got = self._done.get(id(ev))
        if got is not None and got[0] is ev:
            self.hits += 1
            return got[1]
        data = api_pb2.WatchEvent(type=ev.type, object=ev.object,
                                  resource_version=str(ev.revision)).SerializeToString()
        self._done[id(ev)] = (ev, data)
        if len(self._done) > self.size:
            self._done.popitem(last=False)
        return data


def pass_bytes(message: bytes | api_pb2.WatchEvent) -> bytes:
    """The Watch method's response serializer: bytes made by Encodings go as they are."""
    return message if isinstance(message, bytes) else message.SerializeToString()


Req = TypeVar("Req")
Resp = TypeVar("Resp")


class WatchWire(grpc.aio.ServerInterceptor):
    """The innermost interceptor: the Watch method's handler with `pass_bytes` as its
    response serializer (the generated one only takes WatchEvent messages)."""

    def __init__(self) -> None:
        self.wrapped = Wrapped()

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails],
                                         Awaitable[grpc.RpcMethodHandler[Req, Resp] | None]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Req, Resp] | None:
        handler = await continuation(details)
        if details.method != WATCH_METHOD or handler is None or handler.unary_stream is None:
            return handler
        return self.wrapped.get(WATCH_METHOD, handler, _passing_bytes)


def _passing_bytes(handler: grpc.RpcMethodHandler[Req, Resp]) -> grpc.RpcMethodHandler[Req, Resp]:
    assert handler.unary_stream is not None
    return cast("grpc.RpcMethodHandler[Req, Resp]", grpc.unary_stream_rpc_method_handler(
        handler.unary_stream, handler.request_deserializer, pass_bytes))
