"""The certificates of a clustered etcd, from the cluster CA, in DATA_DIR/pki/etcd/.

    files = ensure_etcd_certs(ca, Path(data_dir) / "pki", hosts=["10.0.0.5"])
    files.member_cert, files.member_key     # the member's server and peer certificate
    files.client_tls()                      # controlplane.store.etcdclient.EtcdTLS

member.crt   CN corral-etcd; SAN the member's address, 127.0.0.1, localhost and
             etcd-client.corral.internal; serverAuth + clientAuth. etcd serves its client
             and peer ports with it and dials its peers (and its own gateway) with it.
client.crt   CN corral-etcd-client; SAN etcd-client.corral.internal; clientAuth. What
             corral-controlplane presents to etcd.

The embedded etcd runs with `--client-cert-auth --client-cert-allowed-hostname
etcd-client.corral.internal` and `--peer-client-cert-auth --peer-cert-allowed-cn
corral-etcd` (controlplane/etcd.py): the cluster CA also signs node certificates,
and those name only `<node>.node.corral.internal`, so a node can reach neither an
etcd member's client port nor its peer port with its certificate.

A certificate is issued again when its names change, when it is not from the
current CA, or in the last third of its life (checked at every start).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from common.files import write_atomic
from controlplane.security import pki
from controlplane.store.etcdclient import EtcdTLS

ETCD_DIR = "etcd"
MEMBER_CERT, MEMBER_KEY = "member.crt", "member.key"
CLIENT_CERT, CLIENT_KEY = "client.crt", "client.key"


@dataclass(frozen=True)
class EtcdCertFiles:
    ca: Path
    member_cert: Path
    member_key: Path
    client_cert: Path
    client_key: Path

    def client_tls(self) -> EtcdTLS:
        return EtcdTLS.from_files(ca=self.ca, cert=self.client_cert, key=self.client_key)


def _sans(cert: x509.Certificate) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(n.value) for n in ext}


def _usable(ca: pki.ClusterCA, crt: Path, key: Path, want: set[str]) -> bool:
    if not (crt.exists() and key.exists()):
        return False
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    fresh = dt.datetime.now(dt.UTC) < cert.not_valid_before_utc + life * 2 / 3
    return ca.verify_issued(cert) and fresh and _sans(cert) == want


def _ensure(ca: pki.ClusterCA, crt: Path, key: Path, want: set[str],
            issue: Callable[[], pki.KeyPair]) -> None:
    if _usable(ca, crt, key, want):
        return
    kp = issue()
    write_atomic(key, kp.key_pem, mode=0o600)
    write_atomic(crt, kp.cert_pem, mode=0o644)


def _names(hosts: Sequence[str]) -> set[str]:
    return {str(n.value) for n in pki.hosts_to_sans([*hosts, "127.0.0.1", "localhost"])}


def ensure_etcd_certs(ca: pki.ClusterCA, pki_dir: Path, hosts: Sequence[str]) -> EtcdCertFiles:
    """The member and client certificates for an etcd member reachable at `hosts`."""
    d = Path(pki_dir) / ETCD_DIR
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = EtcdCertFiles(Path(pki_dir) / pki.CA_CERT_FILE, d / MEMBER_CERT, d / MEMBER_KEY,
                          d / CLIENT_CERT, d / CLIENT_KEY)
    with pki.locked(Path(pki_dir)):
        _ensure(ca, files.member_cert, files.member_key,
                _names(hosts) | {pki.ETCD_CLIENT_NAME}, lambda: ca.issue_etcd_member(hosts))
        _ensure(ca, files.client_cert, files.client_key, {pki.ETCD_CLIENT_NAME},
                ca.issue_etcd_client)
    return files
