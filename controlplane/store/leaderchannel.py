"""A grpc.aio channel whose every call carries etcd's `hasleader` metadata.

    channel = LeaderChannel(grpc.aio.insecure_channel(target), (("hasleader", "true"),))
    rpc.KVStub(channel).Range(request)      # sent with hasleader: true

The metadata is added where the call is made, not by a client interceptor:
grpc.aio runs an intercepted call as a task of its own around the real call
(and builds a second ClientCallDetails and Metadata for it), which cost the
control plane more CPU per etcd call than the rest of the call's Python did.
Everything else is the wrapped channel's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import grpc

Pairs = tuple[tuple[str, str], ...]
MetadataType = grpc.aio.Metadata | Sequence[tuple[str, str | bytes]]


def _with(extra: Pairs, metadata: MetadataType | None) -> MetadataType:
    if not metadata:
        return extra
    return (*tuple(metadata), *extra)


class _Callable:
    """A multi-callable of any of the four kinds, `extra` added to each call's metadata.
    Its first argument is the request (unary) or the request iterator (streaming)."""

    def __init__(self, inner: Callable[..., Any], extra: Pairs) -> None:
        self._inner, self._extra = inner, extra

    def __call__(self, request: Any = None, timeout: float | None = None,
                 metadata: MetadataType | None = None,
                 credentials: grpc.CallCredentials | None = None,
                 wait_for_ready: bool | None = None,
                 compression: grpc.Compression | None = None) -> Any:
        return self._inner(request, timeout=timeout, metadata=_with(self._extra, metadata),
                           credentials=credentials, wait_for_ready=wait_for_ready,
                           compression=compression)


class LeaderChannel(grpc.aio.Channel):
    """`inner` with `metadata` added to every call made through it.

    (a) generated stubs pass `_registered_method` (grpc then looks the method up once,
    not on every call); grpc's type stubs do not know that argument.
    """

    def __init__(self, inner: grpc.aio.Channel, metadata: Pairs) -> None:
        self.inner = inner
        self.extra = metadata

    async def __aenter__(self) -> LeaderChannel:
        return self

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        await self.inner.close(None)

    async def close(self, grace: float | None = None) -> None:
        await self.inner.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self.inner.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity
                                    ) -> None:
        await self.inner.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self.inner.channel_ready()

    def unary_unary(self, method: str, request_serializer: Any = None,
                    response_deserializer: Any = None,
                    _registered_method: bool | None = False,
                    ) -> grpc.aio.UnaryUnaryMultiCallable[Any, Any]:
        inner = self.inner.unary_unary(method, request_serializer, response_deserializer,
            _registered_method)  # type: ignore[call-arg]  # (a)
        return cast(grpc.aio.UnaryUnaryMultiCallable[Any, Any], _Callable(inner, self.extra))

    def unary_stream(self, method: str, request_serializer: Any = None,
                     response_deserializer: Any = None,
                     _registered_method: bool | None = False,
                     ) -> grpc.aio.UnaryStreamMultiCallable[Any, Any]:
        inner = self.inner.unary_stream(method, request_serializer, response_deserializer,
            _registered_method)  # type: ignore[call-arg]  # (a)
        return cast(grpc.aio.UnaryStreamMultiCallable[Any, Any], _Callable(inner, self.extra))

    def stream_unary(self, method: str, request_serializer: Any = None,
                     response_deserializer: Any = None,
                     _registered_method: bool | None = False,
                     ) -> grpc.aio.StreamUnaryMultiCallable[Any, Any]:
        inner = self.inner.stream_unary(method, request_serializer, response_deserializer,
            _registered_method)  # type: ignore[call-arg]  # (a)
        return cast(grpc.aio.StreamUnaryMultiCallable[Any, Any], _Callable(inner, self.extra))

    def stream_stream(self, method: str, request_serializer: Any = None,
                      response_deserializer: Any = None,
                      _registered_method: bool | None = False,
                      ) -> grpc.aio.StreamStreamMultiCallable[Any, Any]:
        inner = self.inner.stream_stream(method, request_serializer, response_deserializer,
            _registered_method)  # type: ignore[call-arg]  # (a)
        return cast(grpc.aio.StreamStreamMultiCallable[Any, Any], _Callable(inner, self.extra))
