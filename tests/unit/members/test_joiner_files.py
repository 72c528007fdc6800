"""The files a joining member takes from the cluster (controlplane/members/joiner.py):
the shared ones only, the CA only if it is the pinned one, the Secrets' keys where this
member's --encryption-key-file says, never over a different existing file."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.members import JoinFailed, joiner
from controlplane.security import pki
from proto import membership_pb2

KEYS = b"keys:\n- name: k-1\n  created: '2026-12-06T00:00:00Z'\n  secret: AAAA\n"


def response(ca: pki.ClusterCA,
             *extra: tuple[str, bytes]) -> membership_pb2.ControlPlaneJoinResponse:
    resp = membership_pb2.ControlPlaneJoinResponse()
    for path, content in (("pki/ca.crt", ca.cert_pem), ("pki/secret-keys.yaml", KEYS), *extra):
        resp.files.add(path=path, content=content, mode=0o600)
    return resp


def test_the_key_file_goes_to_the_encryption_key_file(tmp_path: Path) -> None:
    ca = pki.ClusterCA.create()
    own = tmp_path / "etc" / "corral" / "secret-keys.yaml"
    joiner.write_files(tmp_path / "data", response(ca), ca.cert_pem, own)
    assert own.read_bytes() == KEYS
    assert own.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "data" / "pki" / "secret-keys.yaml").exists()
    assert (tmp_path / "data" / "pki" / "ca.crt").read_bytes() == ca.cert_pem


def test_without_a_key_file_flag_it_goes_beside_the_ca(tmp_path: Path) -> None:
    ca = pki.ClusterCA.create()
    joiner.write_files(tmp_path, response(ca), ca.cert_pem)
    assert (tmp_path / "pki" / "secret-keys.yaml").read_bytes() == KEYS


def test_an_existing_different_key_file_is_not_overwritten(tmp_path: Path) -> None:
    ca = pki.ClusterCA.create()
    own = tmp_path / "secret-keys.yaml"
    own.write_bytes(b"keys: []\n")
    with pytest.raises(JoinFailed, match="exists with other content"):
        joiner.write_files(tmp_path / "data", response(ca), ca.cert_pem, own)
    assert own.read_bytes() == b"keys: []\n"


def test_unknown_files_and_another_ca_are_refused(tmp_path: Path) -> None:
    ca, other = pki.ClusterCA.create(), pki.ClusterCA.create()
    with pytest.raises(JoinFailed, match="does not take"):
        joiner.write_files(tmp_path, response(ca, ("../../etc/passwd", b"x")), ca.cert_pem)
    with pytest.raises(JoinFailed, match="other than the pinned"):
        joiner.write_files(tmp_path / "b", response(other), ca.cert_pem)
