"""A real grpc.aio server with the security modules, for the TLS, join and agent TLS
tests: TLS ports, interceptor, join, renewal.

The real Api servicer is not used: a small generic handler stands in for the
`corral.v1.Api` methods (Join, RenewCertificate and a Whoami that echoes the identity).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from agent import security as agent_security
from controlplane import errors
from controlplane.security import authn, join, pki, tokens
from tests.support.refusal import refusal_code

WHOAMI = "/corral.v1.Api/Whoami"
WHOAMI_STREAM = "/corral.v1.Api/WhoamiStream"
AGENT_WHOAMI = "/corral.v1.Agent/Whoami"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Cluster:
    ca: pki.ClusterCA
    tokens: tokens.BootstrapTokens
    clock: Clock
    api: str = ""
    bootstrap: str = ""
    joins: list[str] = field(default_factory=list)


def _ident_json(ident: authn.Identity | None) -> bytes:
    if ident is None:
        return b"null"
    return json.dumps({"user": ident.user, "groups": list(ident.groups),
                       "node": ident.node_name}).encode()


async def _api_error(context: Any, e: errors.ApiError) -> None:
    await context.abort(e.code, e.message)


def api_handler(c: Cluster) -> grpc.GenericRpcHandler:
    m = agent_security.messages()

    async def do_join(req: Any, context: Any) -> Any:
        c.joins.append(req.node_name)
        try:
            r = await join.join(c.ca, c.tokens, token=req.token, csr_pem=req.csr_pem,
                                node_name=req.node_name)
        except errors.ApiError as e:
            await _api_error(context, e)
        return m["JoinResponse"](certificate_pem=r.certificate_pem, ca_pem=r.ca_pem)

    async def do_renew(req: Any, context: Any) -> Any:
        try:
            r = await join.renew(c.ca, authn.current_identity(), csr_pem=req.csr_pem)
        except errors.ApiError as e:
            await _api_error(context, e)
        return m["JoinResponse"](certificate_pem=r.certificate_pem, ca_pem=r.ca_pem)

    async def whoami(req: bytes, context: Any) -> bytes:
        return _ident_json(authn.current_identity())

    async def whoami_stream(req: bytes, context: Any) -> AsyncIterator[bytes]:
        for _ in range(2):
            yield _ident_json(authn.current_identity())

    return grpc.method_handlers_generic_handler("corral.v1.Api", {
        "Join": grpc.unary_unary_rpc_method_handler(
            do_join, m["JoinRequest"].FromString, m["JoinResponse"].SerializeToString),
        "RenewCertificate": grpc.unary_unary_rpc_method_handler(
            do_renew, m["RenewCertificateRequest"].FromString,
            m["JoinResponse"].SerializeToString),
        "Whoami": grpc.unary_unary_rpc_method_handler(whoami),
        "WhoamiStream": grpc.unary_stream_rpc_method_handler(whoami_stream),
    })


@contextlib.asynccontextmanager
async def cluster() -> AsyncIterator[Cluster]:
    clock = Clock()
    c = Cluster(pki.ClusterCA.create(), tokens.BootstrapTokens(tokens.InMemoryKeyValue(),
                                                               clock=clock), clock)
    srv = c.ca.issue_server(["127.0.0.1"])
    server = grpc.aio.server(interceptors=[authn.AuthInterceptor(authn.Authenticator(c.ca.cert))])
    hs = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(hs, server)
    server.add_generic_rpc_handlers((api_handler(c),))
    api_port = server.add_secure_port(
        "127.0.0.1:0", authn.api_server_credentials(srv.cert_pem, srv.key_pem, c.ca.cert_pem))
    boot_port = server.add_secure_port(
        "127.0.0.1:0",
        authn.bootstrap_server_credentials(srv.cert_pem, srv.key_pem, c.ca.cert_pem))
    await server.start()
    c.api, c.bootstrap = f"127.0.0.1:{api_port}", f"127.0.0.1:{boot_port}"
    try:
        yield c
    finally:
        await server.stop(None)


def tls(ca_pem: bytes, kp: pki.KeyPair | None = None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(ca_pem, kp.key_pem if kp else None,
                                        kp.cert_pem if kp else None)


async def whoami(address: str, creds: grpc.ChannelCredentials | None,
                 method: str = WHOAMI, **options: str) -> Any:
    opts = list(options.items())
    ch = (grpc.aio.secure_channel(address, creds, options=opts) if creds is not None
          else grpc.aio.insecure_channel(address))
    async with ch:
        call: Any = ch.unary_unary(method)
        out = await call(b"", timeout=10)
        return json.loads(out)


async def code_of(coro: Any) -> tuple[grpc.StatusCode, str]:
    """The code a server answered with (an UNAVAILABLE from a closed port fails)."""
    try:
        await coro
    except grpc.aio.AioRpcError as e:
        return refusal_code(e), e.details() or ""
    raise AssertionError("the call succeeded")
