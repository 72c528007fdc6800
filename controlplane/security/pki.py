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
| an etcd member      | corral-etcd             | -                | serverAuth, clientAuth   |
| etcd's clients      | corral-etcd-client      | -                | clientAuth               |

A node's certificate also names it as a server, DNS SAN `<name>.node.corral.internal`
(`node_server_name(name)`): the control plane dials an agent at its IP with that
TLS name, so only the holder of node X's certificate can answer as node X.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Names, PEM, hashes and files: controlplane/security/certs.py (re-exported here).
from common.files import write_atomic
from controlplane.security.certs import (
    ADMIN_USER,
    APISERVER_CN,
    CA_CERT_FILE,
    CA_KEY_FILE,
    CA_VALIDITY,
    CLIENT_VALIDITY,
    CLOCK_SKEW,
    CONTROLPLANE_USER,
    ETCD_CLIENT_NAME,
    ETCD_MEMBER_CN,
    MASTERS_GROUP,
    NODE_SERVER_DOMAIN,
    NODE_USER_PREFIX,
    NODE_VALIDITY,
    NODES_GROUP,
    SERVER_VALIDITY,
    CSRRejected,
    KeyPair,
    MalformedCSR,
    PKIError,
    ca_hash_of,
    cert_to_pem,
    generate_key,
    hosts_to_sans,
    key_to_pem,
    locked,
    node_server_name,
    node_user,
    spki_sha256,
    valid_node_name,
    x509_name,
)

__all__ = [
    "ADMIN_USER", "APISERVER_CN", "CA_CERT_FILE", "CA_KEY_FILE", "CA_VALIDITY",
    "CLIENT_VALIDITY", "CLOCK_SKEW", "CONTROLPLANE_USER", "ETCD_CLIENT_NAME",
    "ETCD_MEMBER_CN", "MASTERS_GROUP",
    "NODES_GROUP", "NODE_SERVER_DOMAIN", "NODE_USER_PREFIX", "NODE_VALIDITY",
    "SERVER_VALIDITY", "CSRRejected", "ClusterCA", "KeyPair", "MalformedCSR", "PKIError",
    "ca_hash_of", "cert_to_pem", "generate_key", "hosts_to_sans", "key_to_pem", "locked",
    "node_server_name", "node_user", "spki_sha256", "valid_node_name",
    "x509_name",
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
        name = x509_name(common_name)
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
        write_atomic(directory / CA_KEY_FILE, key_to_pem(self._key), mode=0o600)
        write_atomic(directory / CA_CERT_FILE, self.cert_pem, mode=0o644)
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
        cert = self._sign(key.public_key(), x509_name(cn, orgs), sans=sans, usages=usages,
                          validity=validity)
        return KeyPair(cert_to_pem(cert), key_to_pem(key))

    def issue_server(self, hosts: Sequence[str] = (), *,
                     validity: dt.timedelta = SERVER_VALIDITY) -> KeyPair:
        """The API server's serving certificate: `hosts` (IPs or names) + 127.0.0.1, localhost."""
        sans = hosts_to_sans([*hosts, "127.0.0.1", "localhost"])
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

    def issue_etcd_member(self, hosts: Sequence[str], *,
                          validity: dt.timedelta = SERVER_VALIDITY) -> KeyPair:
        """An etcd member's certificate for its client and peer ports (it dials its peers
        and its own gateway with it too): `hosts` + 127.0.0.1, localhost, and the etcd
        client name its gateway must present."""
        sans = [*hosts_to_sans([*hosts, "127.0.0.1", "localhost"]),
                x509.DNSName(ETCD_CLIENT_NAME)]
        return self._issue(ETCD_MEMBER_CN, (), sans=sans,
                           usages=[ExtendedKeyUsageOID.SERVER_AUTH,
                                   ExtendedKeyUsageOID.CLIENT_AUTH], validity=validity)

    def issue_etcd_client(self, *, validity: dt.timedelta = CLIENT_VALIDITY) -> KeyPair:
        """What a control plane presents to etcd; etcd admits only certificates that name
        ETCD_CLIENT_NAME, so a node's certificate from the same CA is refused."""
        return self._issue("corral-etcd-client", (), sans=[x509.DNSName(ETCD_CLIENT_NAME)],
                           usages=[ExtendedKeyUsageOID.CLIENT_AUTH], validity=validity)

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
        asked_sans: list[x509.GeneralName] = []
        try:
            asked_sans = list(csr.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            pass  # no SAN asked for: the certificate gets the node's own name
        for san in asked_sans:
            if not (isinstance(san, x509.DNSName) and san.value == own):
                raise CSRRejected(f'node "{node_name}" may ask only for the name "{own}", '
                                  f"not {san.value}")
        cert = self._sign(public_key, x509_name(want, [NODES_GROUP]),
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
