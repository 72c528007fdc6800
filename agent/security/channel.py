"""gRPC credentials from the node's credentials: the channel to the API port and
the agent's own (reloading) server credentials."""

from __future__ import annotations

from typing import Any

import grpc

from agent.security.store import NodeCredentials


def channel_credentials(creds: NodeCredentials) -> grpc.ChannelCredentials:
    """For the agent's channel to the API port: trust the cluster CA, present the node cert."""
    return grpc.ssl_channel_credentials(root_certificates=creds.ca_pem,
                                        private_key=creds.key_pem,
                                        certificate_chain=creds.cert_pem)


def agent_server_credentials(creds: NodeCredentials) -> grpc.ServerCredentials:
    """For the agent's own service: our node cert; clients must hold a cluster-CA cert.

    Pair with ControlPlaneOnly() so that of those, only system:controlplane gets in.
    """
    return grpc.ssl_server_credentials([(creds.key_pem, creds.cert_pem)],
                                       root_certificates=creds.ca_pem,
                                       require_client_auth=True)


class ReloadingServerCredentials:
    """Server credentials that pick up renewed node credentials for new connections.

        current = ReloadingServerCredentials(creds)
        server.add_secure_port(listen, current.credentials())
        ... current.update(new_creds)      # from run_renewal's on_renewed
    """

    def __init__(self, creds: NodeCredentials) -> None:
        self._creds = creds
        self._served: NodeCredentials | None = None

    def update(self, creds: NodeCredentials) -> None:
        self._creds = creds

    def _config(self, creds: NodeCredentials) -> Any:
        return grpc.ssl_server_certificate_configuration(
            [(creds.key_pem, creds.cert_pem)], root_certificates=creds.ca_pem)

    def _fetch(self) -> Any:
        # called by gRPC on new handshakes; None keeps the current configuration
        creds = self._creds
        if creds is self._served:
            return None
        self._served = creds
        return self._config(creds)

    def credentials(self) -> grpc.ServerCredentials:
        self._served = self._creds
        return grpc.dynamic_ssl_server_credentials(self._config(self._creds), self._fetch,
                                                   require_client_authentication=True)
