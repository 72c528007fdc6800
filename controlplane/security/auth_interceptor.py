"""AuthInterceptor: every RPC needs a verified client identity, except the public
methods (health checks, Join); the identity is set for the handler."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import grpc

from controlplane import errors
from controlplane.rpc import Around, CallContext, Req, Resp, Wrapped, wrap
from controlplane.security.identity import (
    Authenticator,
    Identity,
    current_identity_var,
    default_authenticator,
)

log = logging.getLogger("controlplane.security.authn")

HEALTH_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
JOIN_METHOD = "/corral.v1.Api/Join"
JOIN_CONTROLPLANE_METHOD = "/corral.v1.Api/JoinControlPlane"   # its token decides
PUBLIC_METHODS = HEALTH_METHODS | {JOIN_METHOD, JOIN_CONTROLPLANE_METHOD}


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
        self.wrapped = Wrapped()

    def _check(self, method: str, context: CallContext) -> Identity | None:
        if method in self.public:
            return None
        ident = self.authenticator.identity_of(context)
        if self.authorize is not None:
            self.authorize(ident, method)
        return ident

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails],
                                         Awaitable[grpc.RpcMethodHandler[Req, Resp] | None]],
            handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Req, Resp] | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method: str = handler_call_details.method
        if method in self.public:
            return handler
        return self.wrapped.get(method, handler, lambda h: wrap(h, self._guard(method)))

    def _guard(self, method: str) -> Around:
        @contextlib.asynccontextmanager
        async def authenticated(context: CallContext) -> AsyncIterator[None]:
            try:
                ident = self._check(method, context)
            except errors.ApiError as e:
                log.info("refused %s: %s (peer %s)", method, e.message, context.peer())
                await context.abort(e.code, e.message)
            current_identity_var.set(ident)
            yield

        return authenticated
