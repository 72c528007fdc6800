"""A real grpc.aio server with the security modules: TLS ports, interceptor, join, renewal.

The real Api servicer is not used: a small generic handler stands in for the
`corral.v1.Api` methods (Join, RenewCertificate and a Whoami that echoes the identity).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from agent import security as agent_security
from controlplane import errors
from controlplane.security import authn, join, pki, setup, tokens
from corral import credentials as cli_credentials
from corral.client import Credentials
from tests.support.aio import run

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
    try:
        await coro
    except grpc.aio.AioRpcError as e:
        return e.code(), e.details() or ""
    raise AssertionError("the call succeeded")


# -- the API port ----------------------------------------------------------------------------

def test_plaintext_and_wrong_ca_refused() -> None:
    async def main() -> None:
        async with cluster() as c:
            code, _ = await code_of(whoami(c.api, None))
            assert code == grpc.StatusCode.UNAVAILABLE       # no TLS: no connection at all
            other = pki.ClusterCA.create()
            code, _ = await code_of(whoami(c.api, tls(c.ca.cert_pem, other.issue_admin())))
            assert code == grpc.StatusCode.UNAVAILABLE       # handshake refused
            code, _ = await code_of(whoami(c.api, tls(c.ca.cert_pem)))   # no client cert
            assert code == grpc.StatusCode.UNAVAILABLE
            code, _ = await code_of(whoami(c.api, tls(other.cert_pem, c.ca.issue_admin())))
            assert code == grpc.StatusCode.UNAVAILABLE       # the client does not trust us
    run(main())


def test_admin_and_node_identities() -> None:
    async def main() -> None:
        async with cluster() as c:
            me = await whoami(c.api, tls(c.ca.cert_pem, c.ca.issue_admin()))
            assert me == {"user": "admin", "groups": ["system:masters"], "node": None}
            me = await whoami(c.api, tls(c.ca.cert_pem, c.ca.issue_node("node-1")))
            assert me == {"user": "system:node:node-1", "groups": ["system:nodes"],
                          "node": "node-1"}
            async with grpc.aio.secure_channel(
                    c.api, tls(c.ca.cert_pem, c.ca.issue_node("node-2"))) as ch:
                stream: Any = ch.unary_stream(WHOAMI_STREAM)
                items = [json.loads(x) async for x in stream(b"")]
            assert [i["node"] for i in items] == ["node-2", "node-2"]
    run(main())


def test_cli_credentials_reach_the_api_port() -> None:
    async def main() -> None:
        async with cluster() as c:
            adm = c.ca.issue_admin()
            creds = Credentials(ca_cert=c.ca.cert_pem, client_cert=adm.cert_pem,
                                client_key=adm.key_pem)
            ch = cli_credentials.aio_channel(c.api, creds)
            async with ch:
                call: Any = ch.unary_unary(WHOAMI)
                out = json.loads(await call(b"", timeout=10))
            assert out["user"] == "admin"
            # and with the TLS name override the config's tls-server-name gives
            named = Credentials(ca_cert=c.ca.cert_pem, client_cert=adm.cert_pem,
                                client_key=adm.key_pem, server_name="localhost")
            async with cli_credentials.aio_channel(c.api, named) as ch2:
                call2: Any = ch2.unary_unary(WHOAMI)
                out = json.loads(await call2(b"", timeout=10))
            assert out["user"] == "admin"
    run(main())


# -- the bootstrap port ----------------------------------------------------------------------

def test_bootstrap_port_serves_only_public_methods() -> None:
    async def main() -> None:
        async with cluster() as c:
            anon = tls(c.ca.cert_pem)
            code, msg = await code_of(whoami(c.bootstrap, anon))
            assert code == grpc.StatusCode.UNAUTHENTICATED and "client certificate" in msg
            async with grpc.aio.secure_channel(c.bootstrap, anon) as ch:
                stream: Any = ch.unary_stream(WHOAMI_STREAM)
                code, _ = await code_of(stream(b"").read())
                assert code == grpc.StatusCode.UNAUTHENTICATED
                resp = await health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(), timeout=10)
                assert resp.status == health_pb2.HealthCheckResponse.SERVING
            # a client certificate is not even asked for there: an admin is anonymous
            code, _ = await code_of(whoami(c.bootstrap, tls(c.ca.cert_pem, c.ca.issue_admin())))
            assert code == grpc.StatusCode.UNAUTHENTICATED
            code, _ = await code_of(whoami(c.bootstrap, None))
            assert code == grpc.StatusCode.UNAVAILABLE
    run(main())


def test_join_end_to_end_then_renew(tmp_path: Path) -> None:
    async def main(tmp: Any) -> None:
        async with cluster() as c:
            token = (await c.tokens.create()).token
            creds = await agent_security.ensure_credentials(
                tmp, "node-1", bootstrap=c.bootstrap, token=token, ca_hash=c.ca.ca_hash())
            assert creds.node_name == "node-1" and creds.ca_pem == c.ca.cert_pem
            assert (tmp / "node.key").stat().st_mode & 0o777 == 0o600
            assert tmp.stat().st_mode & 0o777 == 0o700
            # the stored credentials are used again, no second join
            again = await agent_security.ensure_credentials(tmp, "node-1")
            assert again.cert_pem == creds.cert_pem and c.joins == ["node-1"]
            me = await whoami(c.api, agent_security.channel_credentials(creds))
            assert me["node"] == "node-1"
            renewed = await agent_security.renew(c.api, creds)
            assert renewed.key_pem != creds.key_pem and renewed.node_name == "node-1"
            me = await whoami(c.api, agent_security.channel_credentials(renewed))
            assert me["node"] == "node-1"
            # renewal needs a node identity: an admin cannot renew through it
            m = agent_security.messages()
            _, csr = agent_security.new_key_and_csr("node-1")
            async with grpc.aio.secure_channel(c.api, tls(c.ca.cert_pem,
                                                          c.ca.issue_admin())) as ch:
                call = ch.unary_unary(agent_security.RENEW_METHOD,
                                      m["RenewCertificateRequest"].SerializeToString,
                                      m["JoinResponse"].FromString)
                code, _ = await code_of(call(m["RenewCertificateRequest"](csr_pem=csr)))
            assert code == grpc.StatusCode.PERMISSION_DENIED
            # and a node cannot renew as another node
            _, csr2 = agent_security.new_key_and_csr("node-2")
            async with grpc.aio.secure_channel(
                    c.api, agent_security.channel_credentials(renewed)) as ch:
                call = ch.unary_unary(agent_security.RENEW_METHOD,
                                      m["RenewCertificateRequest"].SerializeToString,
                                      m["JoinResponse"].FromString)
                code, msg = await code_of(call(m["RenewCertificateRequest"](csr_pem=csr2)))
            assert code == grpc.StatusCode.PERMISSION_DENIED and "node-2" in msg
    run(main(tmp_path / "pki"))


def test_wrong_ca_hash_refused_before_any_join() -> None:
    async def main() -> None:
        async with cluster() as c:
            token = (await c.tokens.create()).token
            wrong = pki.ClusterCA.create().ca_hash()
            with pytest.raises(agent_security.CAHashMismatch, match="refusing to join"):
                await agent_security.join(c.bootstrap, token, "node-1", wrong)
            assert c.joins == []      # the token never went to the server
            with pytest.raises(agent_security.JoinError, match="sha256:<64 hex"):
                await agent_security.join(c.bootstrap, token, "node-1", "sha256:abc")
    run(main())


@pytest.mark.parametrize("case", ["expired", "revoked", "malformed", "unknown", "wrong-secret"])
def test_bad_tokens_refused(case: str) -> None:
    async def main() -> None:
        async with cluster() as c:
            created = await c.tokens.create(ttl=dt.timedelta(minutes=5))
            token = created.token
            if case == "expired":
                c.clock.now += dt.timedelta(minutes=6)
            elif case == "revoked":
                await c.tokens.delete(created.info.id)
            elif case == "malformed":
                token = "not-a-token"
            elif case == "unknown":
                token = ("zzzzzz" if not token.startswith("zzzzzz") else "yyyyyy") + token[6:]
            else:
                token = token[:7] + ("0" * 16 if token[7:] != "0" * 16 else "1" * 16)
            with pytest.raises(agent_security.JoinRefused) as e:
                await agent_security.join(c.bootstrap, token, "node-1", c.ca.ca_hash())
            assert e.value.code == grpc.StatusCode.UNAUTHENTICATED
            words = {"expired": "expired", "revoked": "revoked", "malformed": "malformed",
                     "unknown": "unknown", "wrong-secret": "secret does not match"}
            assert words[case] in str(e.value)
            assert created.token[7:] not in str(e.value)   # the secret is never echoed
    run(main())


def test_join_csr_for_another_node_refused() -> None:
    async def main() -> None:
        async with cluster() as c:
            token = (await c.tokens.create()).token
            m = agent_security.messages()
            _, csr = agent_security.new_key_and_csr("node-1")
            async with grpc.aio.secure_channel(c.bootstrap, tls(c.ca.cert_pem)) as ch:
                call = ch.unary_unary(agent_security.JOIN_METHOD,
                                      m["JoinRequest"].SerializeToString,
                                      m["JoinResponse"].FromString)
                code, msg = await code_of(call(m["JoinRequest"](
                    token=token, csr_pem=csr, node_name="node-2")))
                assert code == grpc.StatusCode.PERMISSION_DENIED
                assert 'only ask for CN "system:node:node-2"' in msg
                code, _ = await code_of(call(m["JoinRequest"](
                    token=token, csr_pem=b"junk", node_name="node-2")))
                assert code == grpc.StatusCode.INVALID_ARGUMENT
    run(main())


# -- the agent's own server -------------------------------------------------------------------

def test_agent_server_accepts_only_the_control_plane() -> None:
    async def main() -> None:
        ca = pki.ClusterCA.create()
        node_kp = ca.issue_node("node-a")
        creds = agent_security.NodeCredentials(node_kp.cert_pem, node_kp.key_pem, ca.cert_pem)
        server = grpc.aio.server(interceptors=[agent_security.ControlPlaneOnly()])

        async def who(req: bytes, context: Any) -> bytes:
            return b'"ok"'

        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "corral.v1.Agent", {"Whoami": grpc.unary_unary_rpc_method_handler(who)}),))
        port = server.add_secure_port("127.0.0.1:0",
                                      agent_security.agent_server_credentials(creds))
        await server.start()
        addr = f"127.0.0.1:{port}"
        name = {"grpc.ssl_target_name_override": pki.node_server_name("node-a")}
        try:
            assert await whoami(addr, tls(ca.cert_pem, ca.issue_controlplane_client()),
                                AGENT_WHOAMI, **name) == "ok"
            code, msg = await code_of(whoami(addr, tls(ca.cert_pem, ca.issue_node("node-b")),
                                             AGENT_WHOAMI, **name))
            assert code == grpc.StatusCode.PERMISSION_DENIED and "system:node:node-b" in msg
            code, _ = await code_of(whoami(addr, tls(ca.cert_pem, ca.issue_admin()),
                                           AGENT_WHOAMI, **name))
            assert code == grpc.StatusCode.PERMISSION_DENIED
            other = pki.ClusterCA.create()
            foreign = tls(ca.cert_pem, other.issue_controlplane_client())
            code, _ = await code_of(whoami(addr, foreign, AGENT_WHOAMI, **name))
            assert code == grpc.StatusCode.UNAVAILABLE
            # the control plane checks it talks to node-a: node-b's name does not match
            code, _ = await code_of(whoami(
                addr, tls(ca.cert_pem, ca.issue_controlplane_client()), AGENT_WHOAMI,
                **{"grpc.ssl_target_name_override": pki.node_server_name("node-b")}))
            assert code == grpc.StatusCode.UNAVAILABLE
        finally:
            await server.stop(None)
    run(main())


def test_renewal_loop_and_rejoin_rules(tmp_path: Path) -> None:
    async def main(tmp: Any) -> None:
        async with cluster() as c:
            # no stored credentials and no token: a clear error, nothing written
            with pytest.raises(agent_security.JoinError, match="--token"):
                await agent_security.ensure_credentials(tmp, "node-1")
            token = (await c.tokens.create()).token
            creds = await agent_security.ensure_credentials(
                tmp, "node-1", bootstrap=c.bootstrap, token=token, ca_hash=c.ca.ca_hash())
            # a clock past 2/3 of the validity: the loop renews at once
            late = creds.renew_at() + dt.timedelta(seconds=1)
            gen: Any = agent_security.renewals(c.api, creds, clock=lambda: late)
            new = await gen.__anext__()
            await gen.aclose()
            assert new.cert_pem != creds.cert_pem and new.node_name == "node-1"
            assert new.renew_at() >= creds.renew_at()
            # the stored credentials name another node: join again as this one
            other = await agent_security.ensure_credentials(
                tmp, "node-9", bootstrap=c.bootstrap, token=token, ca_hash=c.ca.ca_hash())
            assert other.node_name == "node-9" and c.joins == ["node-1", "node-9"]
            # stored credentials from another CA than the pinned one: refuse
            with pytest.raises(agent_security.CAHashMismatch):
                await agent_security.ensure_credentials(
                    tmp, "node-9", ca_hash=pki.ClusterCA.create().ca_hash())
    run(main(tmp_path / "pki"))


def test_agent_server_picks_up_renewed_credentials() -> None:
    async def main() -> None:
        ca = pki.ClusterCA.create()
        kp1, kp2 = ca.issue_node("node-a"), ca.issue_node("node-a")
        first = agent_security.NodeCredentials(kp1.cert_pem, kp1.key_pem, ca.cert_pem)
        second = agent_security.NodeCredentials(kp2.cert_pem, kp2.key_pem, ca.cert_pem)
        reloading = agent_security.ReloadingServerCredentials(first)
        seen: list[bytes] = []

        async def who(req: bytes, context: Any) -> bytes:
            return b'"ok"'

        server = grpc.aio.server(interceptors=[agent_security.ControlPlaneOnly()])
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "corral.v1.Agent", {"Whoami": grpc.unary_unary_rpc_method_handler(who)}),))
        port = server.add_secure_port("127.0.0.1:0", reloading.credentials())
        await server.start()
        name = {"grpc.ssl_target_name_override": pki.node_server_name("node-a")}
        cp = tls(ca.cert_pem, ca.issue_controlplane_client())
        try:
            for creds in (first, second):
                reloading.update(creds)
                assert await whoami(f"127.0.0.1:{port}", cp, AGENT_WHOAMI, **name) == "ok"
                seen.append(await served_cert(port))
            assert seen == [c.cert.public_bytes(Encoding.DER) for c in (first, second)]
        finally:
            await server.stop(None)
    run(main())


async def served_cert(port: int) -> bytes:
    """The leaf certificate a TLS server presents right now (not verified)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    try:
        return bytes(writer.get_extra_info("ssl_object").getpeercert(binary_form=True))
    finally:
        writer.transport.abort()


def test_agent_tls_bundle_and_controlplane_agent_channel(tmp_path: Path) -> None:
    async def main() -> None:
        async with cluster() as c:
            token = (await c.tokens.create()).token
            agent_tls = await agent_security.AgentTLS.start(
                tmp_path / "pki", "node-a", server=c.api, bootstrap=c.bootstrap, token=token,
                ca_hash=c.ca.ca_hash())
            # the agent's own server, with its joined identity
            server = grpc.aio.server(interceptors=agent_tls.interceptors())

            async def who(req: bytes, context: Any) -> bytes:
                return b'"ok"'

            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
                "corral.v1.Agent", {"Whoami": grpc.unary_unary_rpc_method_handler(who)}),))
            port = server.add_secure_port("127.0.0.1:0", agent_tls.server_credentials())
            await server.start()
            cp = setup.ControlPlaneCredentials(c.ca, c.ca.issue_server(["127.0.0.1"]),
                                               c.ca.issue_controlplane_client())
            try:
                async with cp.agent_channel(f"127.0.0.1:{port}", "node-a") as ch:
                    call: Any = ch.unary_unary(AGENT_WHOAMI)
                    assert json.loads(await call(b"", timeout=10)) == "ok"
                # dialled as node-b, the agent of node-a is not trusted
                async with cp.agent_channel(f"127.0.0.1:{port}", "node-b") as ch:
                    call = ch.unary_unary(AGENT_WHOAMI)
                    code, _ = await code_of(call(b"", timeout=10))
                    assert code == grpc.StatusCode.UNAVAILABLE
                # and the agent reaches the API port with the same identity
                me = await whoami(c.api, agent_tls.channel_credentials())
                assert me["node"] == "node-a"
            finally:
                await server.stop(None)
    run(main())
