"""Authentication of gRPC callers by their TLS client certificate.

THE DESIGN: one grpc.aio server, two ports.

* the API port (`--listen`, 6445) uses `api_server_credentials(...)`: TLS with
  `require_client_auth=True`, client certificates verified against the cluster CA.
  Every caller there has a verified certificate.
* the bootstrap port (`--bootstrap-listen`, 6444) uses `bootstrap_server_credentials(...)`:
  TLS with the same server certificate, no client certificate asked. A node
  without credentials joins there (`Api/Join` with a bootstrap token).

gRPC Python cannot "request but not require" a client certificate:
`require_client_auth=False` does not even ask for one, so a join RPC without a
certificate and authenticated RPCs cannot share one port. Both ports serve every
service; `AuthInterceptor` lets through without a certificate only the public
methods (health checks, Join) and answers UNAUTHENTICATED for any other method
called without a verified certificate, so the bootstrap port is useless for
anything but joining.

Identity: user = the certificate's CN, groups = its O values; a node is CN
`system:node:<name>` in group `system:nodes`. Inside a handler:

    ident = current_identity()           # set by AuthInterceptor, None for public methods
    ident = identity_of(context)         # or straight from the TLS peer
"""
from __future__ import annotations

# Identity: controlplane/security/identity.py; TLS credentials: tls_credentials.py;
# AuthInterceptor: auth_interceptor.py. Their public names, from here:
from controlplane.security.auth_interceptor import (
    HEALTH_METHODS,
    JOIN_METHOD,
    PUBLIC_METHODS,
    AuthInterceptor,
)
from controlplane.security.identity import (
    Authenticator,
    Identity,
    current_identity,
    current_identity_var,
    default_authenticator,
    identity_from_auth_context,
    identity_from_cert,
    identity_of,
)
from controlplane.security.tls_credentials import (
    api_server_credentials,
    bootstrap_server_credentials,
    channel_credentials,
)

__all__ = [
    "HEALTH_METHODS", "JOIN_METHOD", "PUBLIC_METHODS", "AuthInterceptor", "Authenticator",
    "Identity", "api_server_credentials", "bootstrap_server_credentials",
    "channel_credentials", "current_identity", "current_identity_var",
    "default_authenticator", "identity_from_auth_context", "identity_from_cert",
    "identity_of",
]
