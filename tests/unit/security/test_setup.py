"""The control plane's start-up material: CA, server cert, admin config."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509

from controlplane.security import setup
from corral import config, credentials


def test_prepare_is_stable_and_reissues_on_new_names(tmp_path: Path) -> None:
    first = setup.prepare(tmp_path, ["10.0.0.5"], server="10.0.0.5:6445")
    again = setup.prepare(tmp_path, ["10.0.0.5"], server="10.0.0.5:6445")
    assert again.ca.cert_pem == first.ca.cert_pem
    assert again.server.cert_pem == first.server.cert_pem
    for f in ("pki/ca.key", "pki/apiserver.key", "admin.conf"):
        assert stat.S_IMODE((tmp_path / f).stat().st_mode) == 0o600, f
    moved = setup.prepare(tmp_path, ["10.0.0.6"], server="10.0.0.6:6445")
    assert moved.server.cert_pem != first.server.cert_pem
    cert = x509.load_pem_x509_certificate(moved.server.cert_pem)
    assert moved.ca.verify_issued(cert)
    cp = x509.load_pem_x509_certificate(first.client.cert_pem)
    assert "system:controlplane" in cp.subject.rfc4514_string()


def test_admin_config_is_a_cli_config(tmp_path: Path) -> None:
    sec = setup.prepare(tmp_path, [], server="127.0.0.1:6445")
    cfg = config.load(tmp_path / "admin.conf")
    settings = config.resolve(cfg)
    assert settings.server == "127.0.0.1:6445"
    creds = settings.credentials
    assert creds is not None and creds.ca_cert == sec.ca.cert_pem
    credentials.check(creds)     # a matching admin cert and key
    assert "O=system:masters" in x509.load_pem_x509_certificate(
        creds.client_cert or b"").subject.rfc4514_string()
