"""Identity from a TLS auth context; the CLI's credentials helper."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest

from controlplane import errors
from controlplane.security import authn, pki
from corral import credentials
from corral.client import Credentials


@pytest.fixture(scope="module")
def ca() -> pki.ClusterCA:
    return pki.ClusterCA.create()


def auth_ctx(cert_pem: bytes | None) -> dict[str, list[bytes]]:
    d = {"transport_security_type": [b"ssl"]}
    if cert_pem is not None:
        d["x509_pem_cert"] = [cert_pem]
    return d


def test_identities(ca: pki.ClusterCA) -> None:
    a = authn.Authenticator(ca.cert)
    admin = a.from_auth_context(auth_ctx(ca.issue_admin().cert_pem))
    assert admin.user == "admin" and admin.is_admin and admin.node_name is None
    node = a.from_auth_context(auth_ctx(ca.issue_node("node-1").cert_pem))
    assert node == authn.Identity("system:node:node-1", ("system:nodes",), "node-1")
    assert node.is_node and not node.is_admin
    cp = a.from_auth_context(auth_ctx(ca.issue_controlplane_client().cert_pem))
    assert cp.user == "system:controlplane" and cp.is_admin


def test_no_cert_or_plaintext_is_unauthenticated(ca: pki.ClusterCA) -> None:
    a = authn.Authenticator(ca.cert)
    with pytest.raises(errors.Unauthenticated, match="client certificate"):
        a.from_auth_context(auth_ctx(None))
    with pytest.raises(errors.Unauthenticated, match="TLS"):
        a.from_auth_context({})


def test_foreign_or_expired_cert(ca: pki.ClusterCA, monkeypatch: pytest.MonkeyPatch) -> None:
    a = authn.Authenticator(ca.cert)
    other = pki.ClusterCA.create()
    with pytest.raises(errors.Unauthenticated, match="not signed by the cluster CA"):
        a.from_auth_context(auth_ctx(other.issue_admin().cert_pem))
    # issued two days ago for one day: expired
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    monkeypatch.setattr(pki, "_now", lambda: past)
    expired = ca.issue_admin(validity=dt.timedelta(days=1))
    monkeypatch.undo()
    with pytest.raises(errors.Unauthenticated, match="expired"):
        a.from_auth_context(auth_ctx(expired.cert_pem))


def test_node_cn_without_group_is_not_a_node(ca: pki.ClusterCA) -> None:
    fake = ca.issue_client("system:node:node-1", ["system:masters"])
    with pytest.raises(errors.Unauthenticated, match="not a valid node identity"):
        authn.Authenticator(ca.cert).from_auth_context(auth_ctx(fake.cert_pem))


def test_cli_credentials(ca: pki.ClusterCA) -> None:
    adm = ca.issue_admin()
    good = Credentials(ca_cert=ca.cert_pem, client_cert=adm.cert_pem, client_key=adm.key_pem)
    assert isinstance(credentials.channel_credentials(good), grpc.ChannelCredentials)
    with pytest.raises(credentials.CredentialsError, match="client-key is missing"):
        credentials.check(Credentials(ca_cert=ca.cert_pem, client_cert=adm.cert_pem))
    other = ca.issue_admin()
    with pytest.raises(credentials.CredentialsError, match="does not belong"):
        credentials.check(Credentials(ca.cert_pem, adm.cert_pem, other.key_pem))
    with pytest.raises(credentials.CredentialsError, match="not an unencrypted PEM") as e:
        credentials.check(Credentials(ca.cert_pem, adm.cert_pem, b"garbage-key-material"))
    assert "garbage" not in str(e.value)
    with pytest.raises(credentials.CredentialsError, match="certificate-authority"):
        credentials.check(Credentials(b"nope", adm.cert_pem, adm.key_pem))
    assert credentials.channel_options(Credentials(server_name="corral")) == [
        ("grpc.ssl_target_name_override", "corral")]
