"""The PKI's building blocks: who is who (names, groups, validities), keys and
certificates as PEM, SPKI hashes, node names, SANs and the PKI lock (its files are
written with common.files.write_atomic)."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import ipaddress
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
MASTERS_GROUP = "system:masters"
ADMIN_USER = "admin"
CONTROLPLANE_USER = "system:controlplane"
APISERVER_CN = "corral-apiserver"
NODE_SERVER_DOMAIN = "node.corral.internal"
# etcd members (peers and servers) and their clients (controlplane/security/etcdcerts.py)
ETCD_MEMBER_CN = "corral-etcd"                      # etcd --peer-cert-allowed-cn
ETCD_CLIENT_NAME = "etcd-client.corral.internal"    # etcd --client-cert-allowed-hostname

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=365)
CLIENT_VALIDITY = dt.timedelta(days=365)
NODE_VALIDITY = dt.timedelta(days=30)
CLOCK_SKEW = dt.timedelta(minutes=5)   # not-before backdated by this much

# A node name is a DNS-1123 subdomain, as in Kubernetes.
_NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class PKIError(Exception):
    """The PKI directory cannot be used (unreadable, inconsistent, unsafe permissions)."""


class CSRRejected(Exception):
    """A certificate signing request asks for something its requester may not have."""


class MalformedCSR(CSRRejected):
    """A certificate signing request that cannot be read at all (or is badly signed)."""


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, as PEM. Keep `key_pem` out of logs."""

    cert_pem: bytes
    key_pem: bytes

    def __repr__(self) -> str:   # never print the key by accident
        return f"KeyPair(cert_pem=<{len(self.cert_pem)} bytes>, key_pem=<redacted>)"


# -- helpers every side may want (agent/security.py has its own copies) ---------------------

def spki_sha256(cert: x509.Certificate) -> str:
    """"sha256:<hex>" of the DER SubjectPublicKeyInfo: kubeadm's discovery-token-ca-cert-hash."""
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def ca_hash_of(cert_pem: bytes) -> str:
    return spki_sha256(x509.load_pem_x509_certificate(cert_pem))


def valid_node_name(name: str) -> bool:
    return 0 < len(name) <= 253 and bool(_NODE_NAME.fullmatch(name))


def node_user(name: str) -> str:
    return NODE_USER_PREFIX + name


def node_server_name(name: str) -> str:
    """The TLS name a node's agent answers to (DNS SAN of its certificate)."""
    return f"{name}.{NODE_SERVER_DOMAIN}"


def generate_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_to_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the PKI directory (replicas sharing one data dir)."""
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def hosts_to_sans(hosts: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in hosts:
        h = host.strip().strip("[]")
        if not h or h in seen or h in ("0.0.0.0", "::"):
            continue
        seen.add(h)
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            out.append(x509.DNSName(h))
    return out


def x509_name(cn: str, orgs: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)
