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

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import grpc

Pairs = tuple[tuple[str, str], ...]
MetadataType = grpc.aio.Metadata | Sequence[tuple[str, str | bytes]]
Requests = AsyncIterator[Any] | Iterator[Any] | None


def _with(extra: Pairs, metadata: MetadataType | None) -> MetadataType:
    if not metadata:
        return extra
    return (*tuple(metadata), *extra)


class _UnaryUnary(grpc.aio.UnaryUnaryMultiCallable[Any, Any]):
    def __init__(self, inner: grpc.aio.UnaryUnaryMultiCallable[Any, Any], extra: Pairs) -> None:
        self._inner, self._extra = inner, extra

    def __call__(self, request: Any, *, timeout: float | None = None,
                 metadata: MetadataType | None = None,
                 credentials: grpc.CallCredentials | None = None,
                 wait_for_ready: bool | None = None,
                 compression: grpc.Compression | None = None,
                 ) -> grpc.aio.UnaryUnaryCall[Any, Any]:
        return self._inner(request, timeout=timeout, metadata=_with(self._extra, metadata),
                           credentials=credentials, wait_for_ready=wait_for_ready,
                           compression=compression)


class _UnaryStream(grpc.aio.UnaryStreamMultiCallable[Any, Any]):
    def __init__(self, inner: grpc.aio.UnaryStreamMultiCallable[Any, Any], extra: Pairs) -> None:
        self._inner, self._extra = inner, extra

    def __call__(self, request: Any, *, timeout: float | None = None,
                 metadata: MetadataType | None = None,
                 credentials: grpc.CallCredentials | None = None,
                 wait_for_ready: bool | None = None,
                 compression: grpc.Compression | None = None,
                 ) -> grpc.aio.UnaryStreamCall[Any, Any]:
        return self._inner(request, timeout=timeout, metadata=_with(self._extra, metadata),
                           credentials=credentials, wait_for_ready=wait_for_ready,
                           compression=compression)


class _StreamUnary(grpc.aio.StreamUnaryMultiCallable[Any, Any]):
    def __init__(self, inner: grpc.aio.StreamUnaryMultiCallable[Any, Any], extra: Pairs) -> None:
        self._inner, self._extra = inner, extra

    def __call__(self, request_iterator: Requests = None,
                 timeout: float | None = None, metadata: MetadataType | None = None,
                 credentials: grpc.CallCredentials | None = None,
                 wait_for_ready: bool | None = None,
                 compression: grpc.Compression | None = None,
                 ) -> grpc.aio.StreamUnaryCall[Any, Any]:
        return self._inner(request_iterator, timeout=timeout,
                           metadata=_with(self._extra, metadata), credentials=credentials,
                           wait_for_ready=wait_for_ready, compression=compression)


class _StreamStream(grpc.aio.StreamStreamMultiCallable[Any, Any]):
    def __init__(self, inner: grpc.aio.StreamStreamMultiCallable[Any, Any],
                 extra: Pairs) -> None:
        self._inner, self._extra = inner, extra

    def __call__(self, request_iterator: Requests = None,
                 timeout: float | None = None, metadata: MetadataType | None = None,
                 credentials: grpc.CallCredentials | None = None,
                 wait_for_ready: bool | None = None,
                 compression: grpc.Compression | None = None,
                 ) -> grpc.aio.StreamStreamCall[Any, Any]:
        return self._inner(request_iterator, timeout=timeout,
                           metadata=_with(self._extra, metadata), credentials=credentials,
                           wait_for_ready=wait_for_ready, compression=compression)


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
        return _UnaryUnary(self.inner.unary_unary(
            method, request_serializer, response_deserializer,
            _registered_method), self.extra)  # type: ignore[call-arg]  # (a)

    def unary_stream(self, method: str, request_serializer: Any = None,
                     response_deserializer: Any = None,
                     _registered_method: bool | None = False,
                     ) -> grpc.aio.UnaryStreamMultiCallable[Any, Any]:
        return _UnaryStream(self.inner.unary_stream(
            method, request_serializer, response_deserializer,
            _registered_method), self.extra)  # type: ignore[call-arg]  # (a)

    def stream_unary(self, method: str, request_serializer: Any = None,
                     response_deserializer: Any = None,
                     _registered_method: bool | None = False,
                     ) -> grpc.aio.StreamUnaryMultiCallable[Any, Any]:
        return _StreamUnary(self.inner.stream_unary(
            method, request_serializer, response_deserializer,
            _registered_method), self.extra)  # type: ignore[call-arg]  # (a)

    def stream_stream(self, method: str, request_serializer: Any = None,
                      response_deserializer: Any = None,
                      _registered_method: bool | None = False,
                      ) -> grpc.aio.StreamStreamMultiCallable[Any, Any]:
        return _StreamStream(self.inner.stream_stream(
            method, request_serializer, response_deserializer,
            _registered_method), self.extra)  # type: ignore[call-arg]  # (a)
