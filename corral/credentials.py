"""gRPC channel credentials for the CLI from a config context's TLS material.

    creds = settings.credentials                      # Credentials | None
    check(creds)                                      # CredentialsError says what is wrong
    channel = secure_channel(address, creds, options) # or insecure when creds is None

The control plane's API port requires a client certificate signed by the cluster
CA (`corral-controlplane` writes an admin context for it); the CA verifies the
server. A half-given pair (cert without key) or material that is not PEM is an
error naming what is missing, before any connection is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from common.apiendpoints import ServerListError, channel_target

__all__ = ["Credentials", "CredentialsError", "ServerListError", "aio_channel",
           "channel_credentials", "channel_options", "check", "secure_channel"]


@dataclass(frozen=True)
class Credentials:
    """TLS material, as PEM bytes. All empty: a plaintext channel."""

    ca_cert: bytes | None = None
    client_cert: bytes | None = None
    client_key: bytes | None = None
    server_name: str | None = None   # TLS name override (ssl_target_name_override)

    @property
    def tls(self) -> bool:
        return bool(self.ca_cert or self.client_cert)


class CredentialsError(Exception):
    """TLS material in the config that cannot be used."""


def check(creds: Credentials) -> None:
    """Raise CredentialsError unless the material is a usable combination."""
    if bool(creds.client_cert) != bool(creds.client_key):
        missing = "client-key" if creds.client_cert else "client-certificate"
        raise CredentialsError(f"{missing} is missing: a client certificate and its key go "
                               "together")
    if creds.ca_cert is not None:
        try:
            x509.load_pem_x509_certificates(creds.ca_cert)
        except ValueError:
            raise CredentialsError("certificate-authority is not a PEM certificate") from None
    if creds.client_cert and creds.client_key:
        try:
            cert = x509.load_pem_x509_certificate(creds.client_cert)
        except ValueError:
            raise CredentialsError("client-certificate is not a PEM certificate") from None
        try:
            key = serialization.load_pem_private_key(creds.client_key, password=None)
        except (ValueError, TypeError):
            # never echo the key material in the message
            raise CredentialsError("client-key is not an unencrypted PEM private key") \
                from None
        if cert.public_key() != key.public_key():
            raise CredentialsError("client-key does not belong to client-certificate")


def channel_credentials(creds: Credentials) -> grpc.ChannelCredentials:
    """ssl_channel_credentials for the context: the CA (None: system roots) + client cert."""
    check(creds)
    return grpc.ssl_channel_credentials(root_certificates=creds.ca_cert,
                                        private_key=creds.client_key,
                                        certificate_chain=creds.client_cert)


def channel_options(creds: Credentials | None) -> list[tuple[str, Any]]:
    if creds is not None and creds.server_name:
        return [("grpc.ssl_target_name_override", creds.server_name)]
    return []


def _target(address: str, creds: Credentials | None,
            options: Sequence[tuple[str, Any]]) -> tuple[str, list[tuple[str, Any]]]:
    """`address` may list several servers ("a:6445,b:6445"): one channel balances over
    them and fails over between them (common/apiendpoints.py)."""
    target, balancing = channel_target(address)      # ServerListError
    return target, [*options, *balancing, *channel_options(creds)]


def secure_channel(address: str, creds: Credentials | None,
                   options: Sequence[tuple[str, Any]] = ()) -> grpc.Channel:
    """A channel to `address` (one server or several): TLS when `creds` has any TLS
    material, else plaintext."""
    target, opts = _target(address, creds, options)
    if creds is None or not creds.tls:
        return grpc.insecure_channel(target, options=opts)
    return grpc.secure_channel(target, channel_credentials(creds), options=opts)


def aio_channel(address: str, creds: Credentials | None,
                options: Sequence[tuple[str, Any]] = ()) -> grpc.aio.Channel:
    """The grpc.aio twin of secure_channel."""
    target, opts = _target(address, creds, options)
    if creds is None or not creds.tls:
        return grpc.aio.insecure_channel(target, options=opts)
    return grpc.aio.secure_channel(target, channel_credentials(creds), options=opts)
