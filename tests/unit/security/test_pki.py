"""The cluster PKI: CA life cycle, ca_hash, certificate contents, CSR checks."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent import security as agent_security
from controlplane.security import pki


def cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def orgs(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def eku(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def sans(cert: x509.Certificate) -> list[object]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [n.value for n in ext]


def csr_for(cn_: str, org: list[str] | None = None, dns: list[str] | None = None,
            key: object = None) -> bytes:
    k = key or ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in (org or [])]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn_))
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]),
                            critical=False)
    return b.sign(k, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ca() -> pki.ClusterCA:
    return pki.ClusterCA.create()


def test_ca_created_once_and_stable(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    first = pki.ClusterCA.load_or_create(d)
    assert stat.S_IMODE(os.stat(d / "ca.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    again = pki.ClusterCA.load_or_create(d)
    assert again.cert_pem == first.cert_pem
    assert again.ca_hash() == first.ca_hash()
    # certificates issued after a reload chain to the same CA
    assert first.verify_issued(x509.load_pem_x509_certificate(again.issue_admin().cert_pem))
    bc = first.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca


def test_ca_key_never_in_repr(ca: pki.ClusterCA) -> None:
    assert "PRIVATE" not in repr(ca)
    assert "PRIVATE" not in repr(ca.issue_admin())


def test_refuses_loose_key_permissions_and_half_ca(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    pki.ClusterCA.load_or_create(d)
    os.chmod(d / "ca.key", 0o644)
    with pytest.raises(pki.PKIError, match="chmod 600"):
        pki.ClusterCA.load_or_create(d)
    (d / "ca.key").unlink()
    with pytest.raises(pki.PKIError, match="half"):
        pki.ClusterCA.load_or_create(d)


def test_ca_hash_matches_openssl(tmp_path: Path, ca: pki.ClusterCA) -> None:
    crt = tmp_path / "ca.crt"
    crt.write_bytes(ca.cert_pem)
    out = subprocess.run(
        f"openssl x509 -pubkey -noout -in {crt} | openssl pkey -pubin -outform DER "
        "| sha256sum", shell=True, check=True, capture_output=True, text=True).stdout
    assert ca.ca_hash() == "sha256:" + out.split()[0]
    assert pki.ca_hash_of(ca.cert_pem) == ca.ca_hash()
    assert agent_security.ca_hash(ca.cert_pem) == ca.ca_hash()


def test_server_cert(ca: pki.ClusterCA) -> None:
    kp = ca.issue_server(["10.0.0.5", "cp.example.com", "0.0.0.0"],
                         validity=dt.timedelta(days=10))
    cert = x509.load_pem_x509_certificate(kp.cert_pem)
    names = sans(cert)
    assert ipaddress.ip_address("10.0.0.5") in names
    assert ipaddress.ip_address("127.0.0.1") in names
    assert "cp.example.com" in names and "localhost" in names
    assert ipaddress.ip_address("0.0.0.0") not in names
    assert eku(cert) == {ExtendedKeyUsageOID.SERVER_AUTH}
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=10) <= life <= dt.timedelta(days=10, minutes=6)
    assert ca.verify_issued(cert)
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert not bc.ca


def test_client_identities(ca: pki.ClusterCA) -> None:
    node = x509.load_pem_x509_certificate(ca.issue_node("node-1").cert_pem)
    assert cn(node) == "system:node:node-1" and orgs(node) == ["system:nodes"]
    assert sans(node) == ["node-1.node.corral.internal"]
    assert eku(node) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}
    admin = x509.load_pem_x509_certificate(ca.issue_admin().cert_pem)
    assert cn(admin) == "admin" and orgs(admin) == ["system:masters"]
    assert eku(admin) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    cp = x509.load_pem_x509_certificate(ca.issue_controlplane_client().cert_pem)
    assert cn(cp) == "system:controlplane"
    short = x509.load_pem_x509_certificate(
        ca.issue_admin(validity=dt.timedelta(hours=1)).cert_pem)
    assert short.not_valid_after_utc - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)


def test_issued_key_matches_cert(ca: pki.ClusterCA) -> None:
    kp = ca.issue_admin()
    key = serialization.load_pem_private_key(kp.key_pem, password=None)
    assert x509.load_pem_x509_certificate(kp.cert_pem).public_key() == key.public_key()


def test_validity_capped_by_ca() -> None:
    short_ca = pki.ClusterCA.create(validity=dt.timedelta(days=2))
    cert = x509.load_pem_x509_certificate(
        short_ca.issue_admin(validity=dt.timedelta(days=365)).cert_pem)
    assert cert.not_valid_after_utc <= short_ca.cert.not_valid_after_utc


def test_sign_node_csr(ca: pki.ClusterCA) -> None:
    key_pem, csr_pem = agent_security.new_key_and_csr("node-1")
    pem = ca.sign_node_csr(csr_pem, "node-1", validity=dt.timedelta(days=3))
    cert = x509.load_pem_x509_certificate(pem)
    assert cn(cert) == "system:node:node-1" and orgs(cert) == ["system:nodes"]
    assert sans(cert) == ["node-1.node.corral.internal"]
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert cert.public_key() == key.public_key()
    assert ca.verify_issued(cert)
    # the node asked for nothing else; no SAN and no O is fine too
    ca.sign_node_csr(csr_for("system:node:node-2"), "node-2")


@pytest.mark.parametrize("csr_cn,org,dns,match", [
    ("system:node:node-2", ["system:nodes"], None, 'only ask for CN "system:node:node-1"'),
    ("admin", ["system:nodes"], None, "only ask for CN"),
    ("system:node:node-1", ["system:masters"], None, 'only ask for group "system:nodes"'),
    ("system:node:node-1", ["system:nodes", "system:masters"], None, "group"),
    ("system:node:node-1", ["system:nodes"], ["node-2.node.corral.internal"],
     "ask only for the name"),
    ("system:node:node-1", ["system:nodes"], ["localhost"], "ask only for the name"),
])
def test_csr_refused(ca: pki.ClusterCA, csr_cn: str, org: list[str], dns: list[str] | None,
                     match: str) -> None:
    with pytest.raises(pki.CSRRejected, match=match):
        ca.sign_node_csr(csr_for(csr_cn, org, dns), "node-1")


def test_csr_malformed(ca: pki.ClusterCA) -> None:
    with pytest.raises(pki.MalformedCSR):
        ca.sign_node_csr(b"-----BEGIN CERTIFICATE REQUEST-----\nnope\n", "node-1")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(pki.MalformedCSR, match="EC"):
        ca.sign_node_csr(csr_for("system:node:node-1", key=rsa_key), "node-1")
    with pytest.raises(pki.CSRRejected, match="invalid node name"):
        ca.sign_node_csr(csr_for("system:node:Node_1"), "Node_1")


def test_foreign_cert_not_verified(ca: pki.ClusterCA) -> None:
    other = pki.ClusterCA.create()
    cert = x509.load_pem_x509_certificate(other.issue_admin().cert_pem)
    assert not ca.verify_issued(cert)
