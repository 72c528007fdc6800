"""Who a gRPC caller is: its Identity (user, groups, node) from a verified TLS client
certificate, the Authenticator that checks and caches it, and the identity of the RPC
being handled."""

from __future__ import annotations

import collections
import contextvars
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID

from controlplane import errors
from controlplane.rpc import CallContext
from controlplane.security import pki


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()
    node_name: str | None = None
    # the verified certificate's expiry (None: not from a certificate)
    not_after: dt.datetime | None = field(default=None, compare=False)

    @property
    def is_admin(self) -> bool:
        return pki.MASTERS_GROUP in self.groups

    @property
    def is_node(self) -> bool:
        return self.node_name is not None

    def __str__(self) -> str:
        return f'node "{self.node_name}"' if self.node_name else f'user "{self.user}"'


def identity_from_cert(cert: x509.Certificate) -> Identity:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(cns) != 1 or not cns[0].value:
        raise errors.Unauthenticated("the client certificate has no single common name")
    user = str(cns[0].value)
    groups = tuple(str(a.value)
                   for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    node: str | None = None
    if user.startswith(pki.NODE_USER_PREFIX):
        name = user[len(pki.NODE_USER_PREFIX):]
        if pki.NODES_GROUP not in groups or not pki.valid_node_name(name):
            raise errors.Unauthenticated(f'certificate for "{user}" is not a valid node '
                                         f'identity (needs O={pki.NODES_GROUP})')
        node = name
    return Identity(user, groups, node, cert.not_valid_after_utc)


class Authenticator:
    """Turns a gRPC auth context into an Identity.

    With `ca_cert`, the certificate is checked once more against the cluster CA
    (defence in depth: the TLS layer already verified it on the API port). Results
    are cached by certificate bytes.
    """

    def __init__(self, ca_cert: x509.Certificate | bytes | None = None,
                 cache_size: int = 4096) -> None:
        if isinstance(ca_cert, bytes):
            ca_cert = x509.load_pem_x509_certificate(ca_cert)
        self.ca_cert = ca_cert
        self._cache: collections.OrderedDict[bytes, Identity] = collections.OrderedDict()
        self._cache_size = cache_size

    def from_auth_context(self, auth: Mapping[str, Iterable[bytes]]) -> Identity:
        if list(auth.get("transport_security_type", [])) != [b"ssl"]:
            raise errors.Unauthenticated("a TLS connection with a client certificate is "
                                         "required")
        pems = list(auth.get("x509_pem_cert", []))
        if not pems:
            raise errors.Unauthenticated(
                "this method needs a client certificate signed by the cluster CA; "
                "connect to the API port with one (nodes get theirs by joining)")
        pem = pems[0] if isinstance(pems[0], bytes) else str(pems[0]).encode()
        now = dt.datetime.now(dt.UTC)
        hit = self._cache.get(pem)
        if hit is not None and hit.not_after is not None and now < hit.not_after:
            self._cache.move_to_end(pem)
            return hit
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise errors.Unauthenticated("the client certificate cannot be parsed") from None
        if self.ca_cert is not None:
            try:
                cert.verify_directly_issued_by(self.ca_cert)
            except Exception:
                raise errors.Unauthenticated("the client certificate is not signed by the "
                                             "cluster CA") from None
        if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
            raise errors.Unauthenticated("the client certificate is expired or not yet valid")
        ident = identity_from_cert(cert)
        self._cache[pem] = ident
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return ident

    def identity_of(self, context: CallContext) -> Identity:
        return self.from_auth_context(context.auth_context())


default_authenticator = Authenticator()


def identity_from_auth_context(auth: Mapping[str, Iterable[bytes]]) -> Identity:
    return default_authenticator.from_auth_context(auth)


def identity_of(context: CallContext) -> Identity:
    """The caller's identity from its TLS peer; errors.Unauthenticated when there is none."""
    return default_authenticator.identity_of(context)


current_identity_var: contextvars.ContextVar[Identity | None] = contextvars.ContextVar(
    "corral_identity", default=None)


def current_identity() -> Identity | None:
    """The identity AuthInterceptor established for the RPC being handled (None: public)."""
    return current_identity_var.get()

