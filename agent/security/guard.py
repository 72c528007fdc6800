"""The agent's server lets in only the control plane (CN system:controlplane)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from agent.security.errors import CONTROLPLANE_USER


class ControlPlaneOnly(grpc.aio.ServerInterceptor):
    """Lets through only callers whose verified certificate has CN system:controlplane.

    Use with agent_server_credentials (which makes TLS verify the cert against the CA).
    """

    def __init__(self, allowed: frozenset[str] = frozenset({CONTROLPLANE_USER}),
                 public: frozenset[str] = frozenset({"/grpc.health.v1.Health/Check"})) -> None:
        self.allowed = allowed
        self.public = public

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
            handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method in self.public:
            return handler
        return _guard(handler, self._check)

    def _check(self, context: Any) -> tuple[grpc.StatusCode, str] | None:
        auth = context.auth_context()
        cns = [c.decode(errors="replace") for c in auth.get("x509_common_name", [])]
        if not cns:
            return (grpc.StatusCode.UNAUTHENTICATED,
                    "the agent accepts only the control plane's client certificate")
        if cns[0] not in self.allowed:
            return (grpc.StatusCode.PERMISSION_DENIED,
                    f'"{cns[0]}" may not call this agent: only {CONTROLPLANE_USER} may')
        return None


async def _items(result: Any) -> AsyncIterator[Any]:
    """Items of a streaming handler: an async generator, or a coroutine using context.write."""
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    else:
        await result


def _guard(handler: grpc.RpcMethodHandler,
           check: Callable[[Any], tuple[grpc.StatusCode, str] | None]) -> grpc.RpcMethodHandler:
    h: Any = handler

    async def refuse(context: Any) -> bool:
        bad = check(context)
        if bad is not None:
            await context.abort(*bad)
            return True
        return False

    if h.unary_unary is not None:
        uu = h.unary_unary

        async def unary_unary(request: Any, context: Any) -> Any:
            await refuse(context)
            return await uu(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, h.request_deserializer,
                                                   h.response_serializer)
    if h.unary_stream is not None:
        us = h.unary_stream

        async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
            await refuse(context)
            async for item in _items(us(request, context)):
                yield item

        return grpc.unary_stream_rpc_method_handler(unary_stream, h.request_deserializer,
                                                    h.response_serializer)
    if h.stream_unary is not None:
        su = h.stream_unary

        async def stream_unary(it: Any, context: Any) -> Any:
            await refuse(context)
            return await su(it, context)

        return grpc.stream_unary_rpc_method_handler(stream_unary, h.request_deserializer,
                                                    h.response_serializer)
    ss = h.stream_stream

    async def stream_stream(it: Any, context: Any) -> AsyncIterator[Any]:
        await refuse(context)
        async for item in _items(ss(it, context)):
            yield item

    return grpc.stream_stream_rpc_method_handler(stream_stream, h.request_deserializer,
                                                 h.response_serializer)
