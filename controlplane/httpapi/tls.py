"""TLS for the Kubernetes API and who the caller is.

The server asks for a client certificate but does not require one at the handshake
(CERT_OPTIONAL: one that is sent must verify against the cluster CA), so that a
request without one gets Kubernetes' 401 Unauthorized as a Status rather than a
broken handshake. The identity is read as Kubernetes reads it: user = CN, groups =
O (controlplane/security/identity.py), the same admins and nodes as on the gRPC API.
"""

from __future__ import annotations

import collections
import datetime as dt
import ssl
from pathlib import Path

from cryptography import x509

from controlplane import errors
from controlplane.security.identity import Identity, identity_from_cert


def server_context(cert_file: Path, key_file: Path, ca_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    ctx.load_verify_locations(cadata=ca_pem.decode())
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])     # aiohttp speaks HTTP/1.1; Go clients follow
    return ctx


class CertIdentities:
    """Identities of verified peer certificates (DER), cached."""

    def __init__(self, size: int = 4096) -> None:
        self._cache: collections.OrderedDict[bytes, Identity] = collections.OrderedDict()
        self._size = size

    def of(self, der: bytes | None) -> Identity:
        if not der:
            raise errors.Unauthenticated("Unauthorized")
        now = dt.datetime.now(dt.UTC)
        hit = self._cache.get(der)
        if hit is not None and hit.not_after is not None and now < hit.not_after:
            self._cache.move_to_end(der)
            return hit
        cert = x509.load_der_x509_certificate(der)
        if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
            raise errors.Unauthenticated("Unauthorized: the client certificate has expired")
        ident = identity_from_cert(cert)
        self._cache[der] = ident
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return ident
