"""The agent's stored credentials are read and checked without `cryptography`
(the idle agent's memory), and still refuse what is wrong."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent import security
from agent.security.der import read_cert
from agent.security.keys import make_key_and_csr
from controlplane.security import pki


def test_der_reader_agrees_with_cryptography() -> None:
    ca = pki.ClusterCA.create()
    kp = ca.issue_node("node-1")
    info = read_cert(kp.cert_pem)
    cert = x509.load_pem_x509_certificate(kp.cert_pem)
    assert info.not_before == cert.not_valid_before_utc
    assert info.not_after == cert.not_valid_after_utc
    assert info.rfc4514() == cert.subject.rfc4514_string()
    assert info.common_name == "system:node:node-1"
    assert security.ca_hash(ca.cert_pem) == ca.ca_hash()
    assert read_cert(ca.cert_pem).is_ca and not info.is_ca


def test_key_and_csr_made_in_a_child_process() -> None:
    key_pem, csr_pem = asyncio.run(make_key_and_csr("node-7"))
    csr = x509.load_pem_x509_csr(csr_pem)
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == "CN=system:node:node-7,O=system:nodes"
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key() == csr.public_key()


def test_check_refuses_wrong_key_wrong_ca_and_wrong_node() -> None:
    ca, other = pki.ClusterCA.create(), pki.ClusterCA.create()
    kp, kp2 = ca.issue_node("node-1"), ca.issue_node("node-1")
    good = security.NodeCredentials(kp.cert_pem, kp.key_pem, ca.cert_pem)
    good.check("node-1")
    assert good.node_name == "node-1" and good.valid()
    with pytest.raises(security.JoinError, match="does not match its private key"):
        security.NodeCredentials(kp.cert_pem, kp2.key_pem, ca.cert_pem).check("node-1")
    with pytest.raises(security.JoinError, match="not signed by the cluster CA"):
        security.NodeCredentials(kp.cert_pem, kp.key_pem, other.cert_pem).check("node-1")
    with pytest.raises(security.JoinError, match='not node "node-2"'):
        good.check("node-2")


def test_agent_start_with_stored_credentials_imports_no_cryptography(tmp_path: Path) -> None:
    ca = pki.ClusterCA.create()
    kp = ca.issue_node("node-1")
    security.NodeCredentials(kp.cert_pem, kp.key_pem, ca.cert_pem).save(tmp_path)
    code = textwrap.dedent(f"""
        import asyncio, sys
        import agent.__main__
        from agent.security import AgentTLS
        tls = asyncio.run(AgentTLS.start({str(tmp_path)!r}, "node-1", server="127.0.0.1:1",
                                         ca_hash={ca.ca_hash()!r}))
        tls.channel_credentials(); tls.server_credentials()
        print(tls.creds.node_name, sorted(m for m in sys.modules if m.startswith("cryptography")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["node-1", "[]"]
