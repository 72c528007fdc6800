"""TLS credentials: the API port (client certificates required), the bootstrap port
(none asked), and the control plane's channels to agents."""

from __future__ import annotations

import grpc


def api_server_credentials(cert_pem: bytes, key_pem: bytes, ca_pem: bytes, *,
                           require_client_auth: bool = True) -> grpc.ServerCredentials:
    """TLS for the API port: our certificate (sent with the CA), clients verified by the CA."""
    return grpc.ssl_server_credentials([(key_pem, cert_pem + ca_pem)],
                                       root_certificates=ca_pem,
                                       require_client_auth=require_client_auth)


def bootstrap_server_credentials(cert_pem: bytes, key_pem: bytes,
                                 ca_pem: bytes) -> grpc.ServerCredentials:
    """TLS for the bootstrap port: no client certificate. The chain sent includes the CA,
    which is what a joining agent checks against its pinned --ca-cert-hash."""
    return grpc.ssl_server_credentials([(key_pem, cert_pem + ca_pem)],
                                       root_certificates=None, require_client_auth=False)


def channel_credentials(ca_pem: bytes, cert_pem: bytes | None = None,
                        key_pem: bytes | None = None) -> grpc.ChannelCredentials:
    """Client side (the control plane calling agents): trust the cluster CA, present our cert."""
    return grpc.ssl_channel_credentials(root_certificates=ca_pem, private_key=key_pem,
                                        certificate_chain=cert_pem)

