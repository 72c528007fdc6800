"""The node's stored credentials (`<data-dir>/pki`): load, check, save.

Files (mode 0700 directory): node.key (0600), node.crt, ca.crt. Loading and
checking them imports no `cryptography` (der.py reads the certificate; the
key match and the CA signature are checked by OpenSSL through `ssl`, with a
TLS handshake in memory), so an agent that already joined stays lean.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from agent.security.der import CertInfo, DERError, read_cert
from agent.security.errors import NODE_USER_PREFIX, JoinError
from common.files import write_atomic

KEY_FILE, CERT_FILE, CA_FILE = "node.key", "node.crt", "ca.crt"
RENEW_FRACTION = 2 / 3


@dataclass(frozen=True)
class NodeCredentials:
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def __repr__(self) -> str:
        return f"NodeCredentials({self.subject}, until {self.not_after.isoformat()})"

    @cached_property
    def info(self) -> CertInfo:
        try:
            return read_cert(self.cert_pem)
        except (DERError, ValueError) as e:
            raise JoinError(f"the node certificate cannot be read: {e}") from None

    @property
    def cert(self) -> Any:
        """The certificate as a `cryptography` x509.Certificate (imports it: callers that
        need more than `info` gives)."""
        from cryptography import x509

        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def subject(self) -> str:
        return self.info.rfc4514()

    @property
    def node_name(self) -> str | None:
        cn = self.info.common_name
        return cn[len(NODE_USER_PREFIX):] if cn.startswith(NODE_USER_PREFIX) else None

    @property
    def not_before(self) -> dt.datetime:
        return self.info.not_before

    @property
    def not_after(self) -> dt.datetime:
        return self.info.not_after

    def ca_hash(self) -> str:
        """The SHA-256 pin of the stored CA (as --ca-cert-hash gives it)."""
        try:
            return read_cert(self.ca_pem).spki_hash()
        except (DERError, ValueError) as e:
            raise JoinError(f"the stored CA certificate cannot be read: {e}") from None

    def renew_at(self, fraction: float = RENEW_FRACTION) -> dt.datetime:
        return self.not_before + (self.not_after - self.not_before) * fraction

    def valid(self, now: dt.datetime | None = None) -> bool:
        now = now or dt.datetime.now(dt.UTC)
        return self.not_before <= now < self.not_after

    def check(self, node_name: str) -> None:
        """JoinError unless these are a consistent key/cert/CA for `node_name`."""
        if self.node_name != node_name:
            raise JoinError(f"the node certificate is for {self.subject}, not node "
                            f'"{node_name}"')
        _check_with_openssl(self.cert_pem, self.key_pem, self.ca_pem)

    @classmethod
    def load(cls, directory: Path) -> NodeCredentials | None:
        d = Path(directory)
        try:
            return cls((d / CERT_FILE).read_bytes(), (d / KEY_FILE).read_bytes(),
                       (d / CA_FILE).read_bytes())
        except FileNotFoundError:
            return None

    def save(self, directory: Path) -> None:
        d = Path(directory)
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        # key first: a crash in between leaves a key without the matching cert, which
        # `check` refuses (and the agent joins or renews again) rather than a mismatch used
        # fsync'd: the node's identity must survive a machine crash
        write_atomic(d / CA_FILE, self.ca_pem, mode=0o644)
        write_atomic(d / KEY_FILE, self.key_pem, mode=0o600)
        write_atomic(d / CERT_FILE, self.cert_pem, mode=0o644)


@contextlib.contextmanager
def _memfile(data: bytes) -> Iterator[str]:
    """A path to `data` in memory (never on disk): for ssl's file-only loaders."""
    fd = os.memfd_create("corral-pki", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _check_with_openssl(cert_pem: bytes, key_pem: bytes, ca_pem: bytes) -> None:
    """The key matches the certificate, and the CA signed it: a TLS handshake in memory,
    our certificate on the server side, a client that trusts only the CA."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with _memfile(cert_pem) as cert_path, _memfile(key_pem) as key_path:
        try:
            server_ctx.load_cert_chain(cert_path, key_path)
        except ssl.SSLError:
            raise JoinError("the node certificate does not match its private key") from None
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    try:
        client_ctx.load_verify_locations(cadata=ca_pem.decode("ascii", errors="replace"))
    except (ssl.SSLError, ValueError):
        raise JoinError("the stored CA certificate cannot be read") from None
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = [False, False]
    for _ in range(10):
        for i, end in enumerate((client, server)):
            if done[i]:
                continue
            try:
                end.do_handshake()
                done[i] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLCertVerificationError as e:
                raise JoinError("the node certificate is not signed by the cluster CA "
                                f"({e.verify_message})") from None
            except ssl.SSLError as e:
                raise JoinError(f"the node credentials do not work for TLS: {e}") from None
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done):
            return
    raise JoinError("the node credentials do not work for TLS: handshake did not finish")
