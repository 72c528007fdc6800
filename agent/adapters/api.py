"""The agent's Api port over gRPC to the control plane, with retries and error translation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

import grpc

from agent.ports import (
    ApiAlreadyExists,
    ApiConflict,
    ApiGone,
    ApiNotFound,
    ApiUnavailable,
)
from common.apiendpoints import channel_target
from proto import api_pb2, api_pb2_grpc

T = TypeVar("T")

_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN,
              grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL}


def translate(e: grpc.aio.AioRpcError) -> Exception:
    code = e.code()
    msg = e.details() or code.name
    if code == grpc.StatusCode.NOT_FOUND:
        return ApiNotFound(msg)
    if code == grpc.StatusCode.ABORTED:
        return ApiConflict(msg)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return ApiAlreadyExists(msg)
    if code == grpc.StatusCode.OUT_OF_RANGE:
        return ApiGone(msg)
    if code in _RETRYABLE:
        return ApiUnavailable(f"{code.name}: {msg}")
    return RuntimeError(f"{code.name}: {msg}")


class GrpcApi:
    """ApiPort over the control plane's `Api` gRPC service."""

    OPTIONS = [
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 5_000),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ]

    def __init__(self, address: str, timeout: float = 10.0,
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        """`credentials`: mTLS with the node certificate (None: plaintext, --insecure)."""
        self.address = address
        self.timeout = timeout
        self.channel = self._dial(credentials)
        self.stub = api_pb2_grpc.ApiStub(self.channel)

    def _dial(self, credentials: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
        """`address` may list every control-plane member ("a:6445,b:6445,c:6445"): the
        channel balances over them, skips one that is down or cut off from etcd's
        majority, and retries UNAVAILABLE on another (common/apiendpoints.py)."""
        target, balancing = channel_target(self.address)
        options = [*self.OPTIONS, *balancing]
        if credentials is None:
            return grpc.aio.insecure_channel(target, options=options)
        return grpc.aio.secure_channel(target, credentials, options=options)

    async def reconnect(self, credentials: grpc.ChannelCredentials) -> None:
        """Use new credentials (a renewed certificate) from now on; calls in flight on
        the old channel end (CANCELLED, retried by their loops)."""
        old, self.channel = self.channel, self._dial(credentials)
        self.stub = api_pb2_grpc.ApiStub(self.channel)
        await old.close(grace=5)

    async def close(self) -> None:
        await self.channel.close()

    async def get(self, resource: str, namespace: str, name: str) -> api_pb2.Object:
        try:
            obj: api_pb2.Object = await self.stub.Get(
                api_pb2.GetRequest(resource=resource, namespace=namespace, name=name),
                timeout=self.timeout)
            return obj
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def list(self, resource: str, namespace: str = "",
                   field_selector: str = "") -> api_pb2.ObjectList:
        try:
            out: api_pb2.ObjectList = await self.stub.List(
                api_pb2.ListRequest(resource=resource, namespace=namespace,
                                    field_selector=field_selector), timeout=self.timeout * 3)
            return out
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def watch(self, resource: str, namespace: str = "", field_selector: str = "",
                    resource_version: str = "") -> AsyncIterator[api_pb2.WatchEvent]:
        call = self.stub.Watch(api_pb2.WatchRequest(
            resource=resource, namespace=namespace, field_selector=field_selector,
            resource_version=resource_version, allow_bookmarks=True))
        try:
            async for ev in call:
                yield ev
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None
        finally:
            call.cancel()

    async def create(self, obj: api_pb2.Object) -> api_pb2.Object:
        try:
            out: api_pb2.Object = await self.stub.Create(api_pb2.CreateRequest(object=obj),
                                                         timeout=self.timeout)
            return out
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def update(self, obj: api_pb2.Object) -> api_pb2.Object:
        try:
            out: api_pb2.Object = await self.stub.Update(api_pb2.UpdateRequest(object=obj),
                                                         timeout=self.timeout)
            return out
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def update_status(self, obj: api_pb2.Object) -> api_pb2.Object:
        try:
            out: api_pb2.Object = await self.stub.UpdateStatus(
                api_pb2.UpdateRequest(object=obj), timeout=self.timeout)
            return out
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def delete(self, resource: str, namespace: str, name: str,
                     grace_period_seconds: int | None = None) -> api_pb2.Object:
        req = api_pb2.DeleteRequest(resource=resource, namespace=namespace, name=name)
        if grace_period_seconds is not None:
            req.grace_period_seconds = grace_period_seconds
        try:
            out: api_pb2.Object = await self.stub.Delete(req, timeout=self.timeout)
            return out
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None
