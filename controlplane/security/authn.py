"""Authentication of gRPC callers by their TLS client certificate.

THE DESIGN: one grpc.aio server, two ports.

* the API port (`--listen`, 6443) uses `api_server_credentials(...)`: TLS with
  `require_client_auth=True`, client certificates verified against the cluster CA.
  Every caller there has a verified certificate.
* the bootstrap port (`--bootstrap-listen`, 6444) uses `bootstrap_server_credentials(...)`:
  TLS with the same server certificate, no client certificate asked. A node
  without credentials joins there (`Api/Join` with a bootstrap token).

gRPC Python cannot "request but not require" a client certificate:
`require_client_auth=False` does not even ask for one, so a join RPC without a
certificate and authenticated RPCs cannot share one port. Both ports serve every
service; `AuthInterceptor` lets through without a certificate only the public
methods (health checks, Join) and answers UNAUTHENTICATED for any other method
called without a verified certificate, so the bootstrap port is useless for
anything but joining.

Identity: user = the certificate's CN, groups = its O values; a node is CN
`system:node:<name>` in group `system:nodes`. Inside a handler:

    ident = current_identity()           # set by AuthInterceptor, None for public methods
    ident = identity_of(context)         # or straight from the TLS peer
"""

from __future__ import annotations

import collections
import contextvars
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID

from controlplane import errors
from controlplane.security import pki

log = logging.getLogger(__name__)

HEALTH_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
JOIN_METHOD = "/corral.v1.Api/Join"
PUBLIC_METHODS = HEALTH_METHODS | {JOIN_METHOD}


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()
    node_name: str | None = None
    # the verified certificate's expiry (None: not from a certificate)
    not_after: dt.datetime | None = field(default=None, compare=False)

    @property
    def is_admin(self) -> bool:
        return pki.MASTERS_GROUP in self.groups

    @property
    def is_node(self) -> bool:
        return self.node_name is not None

    def __str__(self) -> str:
        return f'node "{self.node_name}"' if self.node_name else f'user "{self.user}"'


def identity_from_cert(cert: x509.Certificate) -> Identity:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(cns) != 1 or not cns[0].value:
        raise errors.Unauthenticated("the client certificate has no single common name")
    user = str(cns[0].value)
    groups = tuple(str(a.value)
                   for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    node: str | None = None
    if user.startswith(pki.NODE_USER_PREFIX):
        name = user[len(pki.NODE_USER_PREFIX):]
        if pki.NODES_GROUP not in groups or not pki.valid_node_name(name):
            raise errors.Unauthenticated(f'certificate for "{user}" is not a valid node '
                                         f'identity (needs O={pki.NODES_GROUP})')
        node = name
    return Identity(user, groups, node, cert.not_valid_after_utc)


class Authenticator:
    """Turns a gRPC auth context into an Identity.

    With `ca_cert`, the certificate is checked once more against the cluster CA
    (defence in depth: the TLS layer already verified it on the API port). Results
    are cached by certificate bytes.
    """

    def __init__(self, ca_cert: x509.Certificate | bytes | None = None,
                 cache_size: int = 4096) -> None:
        if isinstance(ca_cert, bytes):
            ca_cert = x509.load_pem_x509_certificate(ca_cert)
        self.ca_cert = ca_cert
        self._cache: collections.OrderedDict[bytes, Identity] = collections.OrderedDict()
        self._cache_size = cache_size

    def from_auth_context(self, auth: Mapping[str, Iterable[bytes]]) -> Identity:
        if list(auth.get("transport_security_type", [])) != [b"ssl"]:
            raise errors.Unauthenticated("a TLS connection with a client certificate is "
                                         "required")
        pems = list(auth.get("x509_pem_cert", []))
        if not pems:
            raise errors.Unauthenticated(
                "this method needs a client certificate signed by the cluster CA; "
                "connect to the API port with one (nodes get theirs by joining)")
        pem = pems[0] if isinstance(pems[0], bytes) else str(pems[0]).encode()
        now = dt.datetime.now(dt.UTC)
        hit = self._cache.get(pem)
        if hit is not None and hit.not_after is not None and now < hit.not_after:
            self._cache.move_to_end(pem)
            return hit
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise errors.Unauthenticated("the client certificate cannot be parsed") from None
        if self.ca_cert is not None:
            try:
                cert.verify_directly_issued_by(self.ca_cert)
            except Exception:
                raise errors.Unauthenticated("the client certificate is not signed by the "
                                             "cluster CA") from None
        if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
            raise errors.Unauthenticated("the client certificate is expired or not yet valid")
        ident = identity_from_cert(cert)
        self._cache[pem] = ident
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return ident

    def identity_of(self, context: grpc.aio.ServicerContext[Any, Any]) -> Identity:
        return self.from_auth_context(context.auth_context())


_default = Authenticator()


def identity_from_auth_context(auth: Mapping[str, Iterable[bytes]]) -> Identity:
    return _default.from_auth_context(auth)


def identity_of(context: grpc.aio.ServicerContext[Any, Any]) -> Identity:
    """The caller's identity from its TLS peer; errors.Unauthenticated when there is none."""
    return _default.identity_of(context)


_current: contextvars.ContextVar[Identity | None] = contextvars.ContextVar(
    "corral_identity", default=None)


def current_identity() -> Identity | None:
    """The identity AuthInterceptor established for the RPC being handled (None: public)."""
    return _current.get()


# -- credentials --------------------------------------------------------------------------

def api_server_credentials(cert_pem: bytes, key_pem: bytes, ca_pem: bytes, *,
                           require_client_auth: bool = True) -> grpc.ServerCredentials:
    """TLS for the API port: our certificate (sent with the CA), clients verified by the CA."""
    return grpc.ssl_server_credentials([(key_pem, cert_pem + ca_pem)],
                                       root_certificates=ca_pem,
                                       require_client_auth=require_client_auth)


def bootstrap_server_credentials(cert_pem: bytes, key_pem: bytes,
                                 ca_pem: bytes) -> grpc.ServerCredentials:
    """TLS for the bootstrap port: no client certificate. The chain sent includes the CA,
    which is what a joining agent checks against its pinned --ca-cert-hash."""
    return grpc.ssl_server_credentials([(key_pem, cert_pem + ca_pem)],
                                       root_certificates=None, require_client_auth=False)


def channel_credentials(ca_pem: bytes, cert_pem: bytes | None = None,
                        key_pem: bytes | None = None) -> grpc.ChannelCredentials:
    """Client side (the control plane calling agents): trust the cluster CA, present our cert."""
    return grpc.ssl_channel_credentials(root_certificates=ca_pem, private_key=key_pem,
                                        certificate_chain=cert_pem)


# -- the interceptor ----------------------------------------------------------------------

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
        self.authenticator = authenticator or _default
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
            _current.set(ident)
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
            _current.set(ident)
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
            _current.set(ident)
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
        _current.set(ident)
        result = inner_ss(request_iterator, context)
        if hasattr(result, "__aiter__"):
            async for item in result:
                yield item
        else:
            await result

    return grpc.stream_stream_rpc_method_handler(
        stream_stream, h.request_deserializer, h.response_serializer)

