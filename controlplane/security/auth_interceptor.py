"""AuthInterceptor: every RPC needs a verified client identity, except the public
methods (health checks, Join); the identity is set for the handler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc

from controlplane import errors
from controlplane.security.identity import (
    Authenticator,
    Identity,
    current_identity_var,
    default_authenticator,
)

log = logging.getLogger("controlplane.security.authn")

HEALTH_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
JOIN_METHOD = "/corral.v1.Api/Join"
PUBLIC_METHODS = HEALTH_METHODS | {JOIN_METHOD}

Handler = grpc.RpcMethodHandler


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Rejects every RPC without a verified client identity, except `public` methods.

    The identity is available to the handler via `current_identity()`. `authorize`, if
    given, is called as `authorize(identity, method)` and may raise errors.Forbidden
    (e.g. to keep nodes away from whole methods); per-object checks belong in the
    servicer (controlplane/security/authz.py).
    """

    def __init__(self, authenticator: Authenticator | None = None,
                 public: Iterable[str] = PUBLIC_METHODS,
                 authorize: Callable[[Identity, str], None] | None = None) -> None:
        self.authenticator = authenticator or default_authenticator
        self.public = frozenset(public)
        self.authorize = authorize

    def _check(self, method: str, context: Any) -> Identity | None:
        if method in self.public:
            return None
        ident = self.authenticator.identity_of(context)
        if self.authorize is not None:
            self.authorize(ident, method)
        return ident

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
            handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method: str = handler_call_details.method
        if method in self.public:
            return handler
        return _wrap(handler, lambda ctx: self._check(method, ctx), method)


async def _deny(context: Any, e: errors.ApiError, method: str) -> None:
    log.info("refused %s: %s (peer %s)", method, e.message, context.peer())
    await context.abort(e.code, e.message)


def _wrap(handler: Handler, check: Callable[[Any], Identity | None], method: str) -> Handler:
    h: Any = handler

    if h.unary_unary is not None:
        inner_uu = h.unary_unary

        async def unary_unary(request: Any, context: Any) -> Any:
            try:
                ident = check(context)
            except errors.ApiError as e:
                await _deny(context, e, method)
                raise AssertionError("unreachable") from e
            current_identity_var.set(ident)
            return await inner_uu(request, context)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, h.request_deserializer, h.response_serializer)

    if h.unary_stream is not None:
        inner_us = h.unary_stream

        async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
            try:
                ident = check(context)
            except errors.ApiError as e:
                await _deny(context, e, method)
                return
            current_identity_var.set(ident)
            result = inner_us(request, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            else:   # a handler using context.write() returns a coroutine
                await result

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, h.request_deserializer, h.response_serializer)

    if h.stream_unary is not None:
        inner_su = h.stream_unary

        async def stream_unary(request_iterator: Any, context: Any) -> Any:
            try:
                ident = check(context)
            except errors.ApiError as e:
                await _deny(context, e, method)
                raise AssertionError("unreachable") from e
            current_identity_var.set(ident)
            return await inner_su(request_iterator, context)

        return grpc.stream_unary_rpc_method_handler(
            stream_unary, h.request_deserializer, h.response_serializer)

    inner_ss = h.stream_stream

    async def stream_stream(request_iterator: Any, context: Any) -> AsyncIterator[Any]:
        try:
            ident = check(context)
        except errors.ApiError as e:
            await _deny(context, e, method)
            return
        current_identity_var.set(ident)
        result = inner_ss(request_iterator, context)
        if hasattr(result, "__aiter__"):
            async for item in result:
                yield item
        else:
            await result

    return grpc.stream_stream_rpc_method_handler(
        stream_stream, h.request_deserializer, h.response_serializer)

