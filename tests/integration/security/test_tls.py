"""TLS on the API ports: who gets in, with which identity; the bootstrap port serves
only the public methods (a real grpc.aio server)."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane.security import pki
from corral import credentials as cli_credentials
from corral.client import Credentials
from tests.integration.security.tlscluster import (
    WHOAMI,
    WHOAMI_STREAM,
    cluster,
    code_of,
    tls,
    whoami,
)
from tests.support.aio import run
from tests.support.refusal import closed_port


def test_plaintext_and_wrong_ca_refused() -> None:
    async def main() -> None:
        async with cluster() as c:
            # the positive control: this port serves, to the right client
            assert (await whoami(c.api, tls(c.ca.cert_pem, c.ca.issue_admin())))["user"] \
                == "admin"
            code, _ = await code_of(whoami(c.api, None))
            assert code == grpc.StatusCode.UNAVAILABLE       # no TLS: no connection at all
            other = pki.ClusterCA.create()
            code, _ = await code_of(whoami(c.api, tls(c.ca.cert_pem, other.issue_admin())))
            assert code == grpc.StatusCode.UNAVAILABLE       # handshake refused
            code, _ = await code_of(whoami(c.api, tls(c.ca.cert_pem)))   # no client cert
            assert code == grpc.StatusCode.UNAVAILABLE
            code, _ = await code_of(whoami(c.api, tls(other.cert_pem, c.ca.issue_admin())))
            assert code == grpc.StatusCode.UNAVAILABLE       # the client does not trust us
            # the negative control: where nothing listens, code_of tells it apart
            with pytest.raises(AssertionError, match="nothing listens"):
                await code_of(whoami(f"127.0.0.1:{closed_port()}", None))
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
