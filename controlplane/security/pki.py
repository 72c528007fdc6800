"""The cluster PKI: one CA that signs every certificate of the cluster.

    ca = ClusterCA.load_or_create(Path(data_dir) / "pki")   # created on first start
    ca.ca_hash()                     # "sha256:<hex>" to pin in `corral-agent --ca-cert-hash`
    srv = ca.issue_server(["10.0.0.5", "cp.example"])       # + 127.0.0.1, localhost
    adm = ca.issue_admin()           # CN admin, O system:masters
    cp = ca.issue_controlplane_client()                      # CN system:controlplane
    node_pem = ca.sign_node_csr(csr_pem, node_name="node-1")  # a node's join/renewal

Files in the PKI directory (mode 0700): `ca.crt` (0644) and `ca.key` (0600,
PKCS#8 PEM, never logged, never returned by any API). Keys are EC P-256.

Who is who (read by controlplane/security/authn.py from a verified client cert):

| identity            | subject CN              | subject O        | extended key usage       |
| ------------------- | ----------------------- | ---------------- | ------------------------ |
| admin (the CLI)     | admin                   | system:masters   | clientAuth               |
| a node's agent      | system:node:<name>      | system:nodes     | clientAuth, serverAuth   |
| the control plane   | system:controlplane     | system:masters   | clientAuth               |
| API server (TLS)    | corral-apiserver        | -                | serverAuth               |

A node's certificate also names it as a server, DNS SAN `<name>.node.corral.internal`
(`node_server_name(name)`): the control plane dials an agent at its IP with that
TLS name, so only the holder of node X's certificate can answer as node X.
"""

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
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
MASTERS_GROUP = "system:masters"
ADMIN_USER = "admin"
CONTROLPLANE_USER = "system:controlplane"
APISERVER_CN = "corral-apiserver"
NODE_SERVER_DOMAIN = "node.corral.internal"

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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def write_private(path: Path, data: bytes, mode: int) -> None:
    """Write atomically with `mode` from the first byte on (no window with looser bits)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)   # umask may have cleared bits we asked for
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the PKI directory (replicas sharing one data dir)."""
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _hosts_to_sans(hosts: Sequence[str]) -> list[x509.GeneralName]:
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


def _name(cn: str, orgs: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


class ClusterCA:
    """The CA certificate and key. Build with `load_or_create`, `load` or `create`."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey,
                 directory: Path | None = None) -> None:
        if cert.public_key() != key.public_key():
            raise PKIError("the CA key does not belong to the CA certificate")
        self.cert = cert
        self._key = key
        self.directory = directory

    def __repr__(self) -> str:
        return f"ClusterCA({self.cert.subject.rfc4514_string()}, {self.ca_hash()})"

    # -- life cycle -----------------------------------------------------------------------

    @classmethod
    def create(cls, common_name: str = "corral-ca",
               validity: dt.timedelta = CA_VALIDITY) -> ClusterCA:
        """A new CA in memory (see `save`)."""
        key = generate_key()
        now = _now()
        name = _name(common_name)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, directory: Path) -> ClusterCA:
        directory = Path(directory)
        cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
        try:
            st = key_path.stat()
            if st.st_mode & 0o077:
                raise PKIError(f"{key_path} is readable by others (mode "
                               f"{st.st_mode & 0o777:o}); chmod 600 it")
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except OSError as e:
            raise PKIError(f"cannot read the cluster CA in {directory}: {e.strerror}") from None
        except ValueError:
            # the message of a failed key parse could quote key material: say only where
            raise PKIError(f"the cluster CA in {directory} is not valid PEM") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PKIError(f"{key_path}: expected an EC private key")
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not bc.ca:
            raise PKIError(f"{cert_path} is not a CA certificate")
        return cls(cert, key, directory)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(directory / CA_KEY_FILE, key_to_pem(self._key), 0o600)
        write_private(directory / CA_CERT_FILE, self.cert_pem, 0o644)
        self.directory = directory

    @classmethod
    def load_or_create(cls, directory: Path, common_name: str = "corral-ca",
                       validity: dt.timedelta = CA_VALIDITY) -> ClusterCA:
        """The CA in `directory`; a new one there if it has none (first start)."""
        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with locked(directory):
            have_cert = (directory / CA_CERT_FILE).exists()
            have_key = (directory / CA_KEY_FILE).exists()
            if have_cert or have_key:
                if not (have_cert and have_key):
                    raise PKIError(f"{directory} holds only half of the cluster CA "
                                   f"({CA_CERT_FILE} and {CA_KEY_FILE} go together)")
                return cls.load(directory)
            ca = cls.create(common_name, validity)
            ca.save(directory)
            return ca

    # -- facts ------------------------------------------------------------------------------

    @property
    def cert_pem(self) -> bytes:
        return cert_to_pem(self.cert)

    def ca_hash(self) -> str:
        return spki_sha256(self.cert)

    # -- issuing ----------------------------------------------------------------------------

    def _sign(self, public_key: ec.EllipticCurvePublicKey, subject: x509.Name, *,
              sans: Sequence[x509.GeneralName], usages: Sequence[x509.ObjectIdentifier],
              validity: dt.timedelta) -> x509.Certificate:
        if validity <= dt.timedelta(0):
            raise ValueError("validity must be positive")
        now = _now()
        not_after = min(now + validity, self.cert.not_valid_after_utc)
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        b = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_ski), critical=False)
        )
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        return b.sign(self._key, hashes.SHA256())

    def _issue(self, cn: str, orgs: Sequence[str], *, sans: Sequence[x509.GeneralName] = (),
               usages: Sequence[x509.ObjectIdentifier], validity: dt.timedelta) -> KeyPair:
        key = generate_key()
        cert = self._sign(key.public_key(), _name(cn, orgs), sans=sans, usages=usages,
                          validity=validity)
        return KeyPair(cert_to_pem(cert), key_to_pem(key))

    def issue_server(self, hosts: Sequence[str] = (), *,
                     validity: dt.timedelta = SERVER_VALIDITY) -> KeyPair:
        """The API server's serving certificate: `hosts` (IPs or names) + 127.0.0.1, localhost."""
        sans = _hosts_to_sans([*hosts, "127.0.0.1", "localhost"])
        return self._issue(APISERVER_CN, (), sans=sans,
                           usages=[ExtendedKeyUsageOID.SERVER_AUTH], validity=validity)

    def issue_client(self, user: str, groups: Sequence[str] = (), *,
                     validity: dt.timedelta = CLIENT_VALIDITY) -> KeyPair:
        return self._issue(user, groups, usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
                           validity=validity)

    def issue_admin(self, user: str = ADMIN_USER, *,
                    validity: dt.timedelta = CLIENT_VALIDITY) -> KeyPair:
        return self.issue_client(user, [MASTERS_GROUP], validity=validity)

    def issue_controlplane_client(self, *, validity: dt.timedelta = CLIENT_VALIDITY) -> KeyPair:
        """The control plane's identity when it calls agents (logs, exec, stats, images)."""
        return self.issue_client(CONTROLPLANE_USER, [MASTERS_GROUP], validity=validity)

    def issue_node(self, node_name: str, *, validity: dt.timedelta = NODE_VALIDITY) -> KeyPair:
        """A node's key and certificate made here (tests, pre-provisioned nodes)."""
        if not valid_node_name(node_name):
            raise ValueError(f"invalid node name {node_name!r}")
        return self._issue(node_user(node_name), [NODES_GROUP],
                           sans=[x509.DNSName(node_server_name(node_name))],
                           usages=[ExtendedKeyUsageOID.CLIENT_AUTH,
                                   ExtendedKeyUsageOID.SERVER_AUTH],
                           validity=validity)

    def sign_node_csr(self, csr_pem: bytes, node_name: str, *,
                      validity: dt.timedelta = NODE_VALIDITY) -> bytes:
        """Sign a node's CSR, which must ask for exactly CN system:node:<node_name>.

        The CSR may name O system:nodes and no other group; it may ask for no SAN or just
        the node's own server name. Everything else in it (extensions, usages) is ignored:
        the certificate's contents are decided here. CSRRejected says what was wrong.
        """
        if not valid_node_name(node_name):
            raise CSRRejected(f"invalid node name {node_name!r}: must be a DNS-1123 subdomain")
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError:
            raise MalformedCSR("the certificate signing request is not a valid PEM CSR") \
                from None
        if not csr.is_signature_valid:
            raise MalformedCSR("the certificate signing request's signature does not verify")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or \
                public_key.curve.name not in ("secp256r1", "secp384r1"):
            raise MalformedCSR("the CSR's key must be an EC P-256 or P-384 key")
        want = node_user(node_name)
        cns = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if cns != [want]:
            asked = ", ".join(str(c) for c in cns) or "no common name"
            raise CSRRejected(f'node "{node_name}" may only ask for CN "{want}", '
                              f"not {asked}")
        orgs = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if any(o != NODES_GROUP for o in orgs):
            raise CSRRejected(f'node "{node_name}" may only ask for group "{NODES_GROUP}", '
                              f"not {', '.join(str(o) for o in orgs)}")
        others = [a for a in csr.subject
                  if a.oid not in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME)]
        if others:
            raise CSRRejected("the CSR's subject may hold only CN and O, not "
                              + ", ".join(a.rfc4514_string() for a in others))
        own = node_server_name(node_name)
        try:
            asked_sans = csr.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            asked_sans = x509.SubjectAlternativeName([])
        for san in asked_sans:
            if not (isinstance(san, x509.DNSName) and san.value == own):
                raise CSRRejected(f'node "{node_name}" may ask only for the name "{own}", '
                                  f"not {san.value}")
        cert = self._sign(public_key, _name(want, [NODES_GROUP]),
                          sans=[x509.DNSName(own)],
                          usages=[ExtendedKeyUsageOID.CLIENT_AUTH,
                                  ExtendedKeyUsageOID.SERVER_AUTH],
                          validity=validity)
        return cert_to_pem(cert)

    def verify_issued(self, cert: x509.Certificate) -> bool:
        """Whether `cert` was signed by this CA and is inside its validity window now."""
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        now = _now()
        return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
