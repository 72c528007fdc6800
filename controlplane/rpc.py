"""What the control plane's gRPC glue shares: the call context as it uses it, the
shape of a channel factory, and code around every call of a method handler,
whatever its kind.

    handler = wrap(handler, around)      # in a grpc.aio.ServerInterceptor
    channel = factory(address, node_name, options)   # a ChannelFactory: to an agent

`around(context)` is an async context manager entered before the handler runs
and left when the call is over (for a streamed answer: when the stream ends,
however it ends). It refuses a call by aborting the context (`abort` raises):
the handler then never runs. The metrics time calls with it, authentication
checks the caller with it. grpc.aio picks how to call a handler by what it is
(a coroutine function, an async generator function), so the wrappers are real
`async def`s of the same kind as the handler they wrap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import NoReturn, Protocol, TypeVar, cast

import grpc

Req = TypeVar("Req")
Resp = TypeVar("Resp")
In = TypeVar("In")
Out = TypeVar("Out")


class CallContext(Protocol):
    """The part of a grpc.aio.ServicerContext the control plane uses (every one fits)."""

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn: ...

    def peer(self) -> str: ...

    def auth_context(self) -> Mapping[str, Iterable[bytes]]: ...

    def code(self) -> grpc.StatusCode: ...


# grpc channel arguments, e.g. ("grpc.max_receive_message_length", 64 << 20)
ChannelOptions = Sequence[tuple[str, int | str]]
# (address, node name, options) -> a channel to that node's agent
ChannelFactory = Callable[[str, str, ChannelOptions], grpc.aio.Channel]

Around = Callable[[CallContext], AbstractAsyncContextManager[None]]
Unary = Callable[[In, CallContext], Awaitable[Out]]
# a streaming handler is an async generator, or a coroutine that uses context.write()
Streaming = Callable[[In, CallContext], AsyncIterator[Out] | Awaitable[None]]


def _unary(inner: Unary[In, Out], around: Around) -> Unary[In, Out]:
    async def call(request: In, context: CallContext) -> Out:
        async with around(context):
            return await inner(request, context)

    return call


def _streaming(inner: Streaming[In, Out], around: Around
               ) -> Callable[[In, CallContext], AsyncIterator[Out]]:
    async def call(request: In, context: CallContext) -> AsyncIterator[Out]:
        async with around(context):
            result = inner(request, context)
            if isinstance(result, AsyncIterator):
                async for item in result:
                    yield item
            else:
                await result

    return call


def wrap(handler: grpc.RpcMethodHandler[Req, Resp],
         around: Around) -> grpc.RpcMethodHandler[Req, Resp]:
    """`handler` with `around` around each of its calls."""
    de, ser = handler.request_deserializer, handler.response_serializer
    # grpc's stubs type the behaviours as the synchronous API's; under grpc.aio they
    # are coroutine functions and async generator functions: say so once, here
    if handler.unary_unary is not None:
        uu = cast(Unary[Req, Resp], handler.unary_unary)
        return grpc.unary_unary_rpc_method_handler(_unary(uu, around), de, ser)
    if handler.stream_unary is not None:
        su = cast(Unary[AsyncIterator[Req], Resp], handler.stream_unary)
        return grpc.stream_unary_rpc_method_handler(_unary(su, around), de, ser)
    if handler.unary_stream is not None:
        us = cast(Streaming[Req, Resp], handler.unary_stream)
        return grpc.unary_stream_rpc_method_handler(_streaming(us, around), de, ser)
    if handler.stream_stream is not None:
        ss = cast(Streaming[AsyncIterator[Req], Resp], handler.stream_stream)
        return grpc.stream_stream_rpc_method_handler(_streaming(ss, around), de, ser)
    return handler


class Wrapped:
    """What an interceptor made of a method's handler, made once per method.

    grpc.aio asks every server interceptor for the handler of each call; the handler
    it passes on for a method is the same object call after call, so what was
    built around it (`wrap` above, a new serializer) is kept and handed out again:

        handler = await continuation(details)
        return self.wrapped.get(details.method, handler, lambda h: wrap(h, around))
    """

    def __init__(self) -> None:
        self._done: dict[str, tuple[object, object]] = {}

    def get(self, method: str, handler: grpc.RpcMethodHandler[Req, Resp],
            make: Callable[[grpc.RpcMethodHandler[Req, Resp]],
                           grpc.RpcMethodHandler[Req, Resp]],
            ) -> grpc.RpcMethodHandler[Req, Resp]:
        got = self._done.get(method)
        if got is not None and got[0] is handler:
            return cast("grpc.RpcMethodHandler[Req, Resp]", got[1])
        out = make(handler)
        self._done[method] = (handler, out)
        return out
