"""Joining with a bootstrap token, certificate renewal and the rules for rejoining."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent import security as agent_security
from controlplane.security import pki
from tests.integration.security.tlscluster import (
    cluster,
    code_of,
    tls,
    whoami,
)
from tests.support.aio import run


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
