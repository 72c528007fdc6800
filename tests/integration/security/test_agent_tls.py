"""The agent's TLS server: only the control plane gets in, renewed credentials are
picked up, and the control plane's agent channel trusts only the node's certificate."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.serialization import Encoding

from agent import security as agent_security
from controlplane.security import pki, setup
from tests.integration.security.tlscluster import (
    AGENT_WHOAMI,
    cluster,
    code_of,
    tls,
    whoami,
)
from tests.support.aio import run


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
