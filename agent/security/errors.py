"""The agent security errors and the names both sides agree on."""

from __future__ import annotations

import grpc

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
CONTROLPLANE_USER = "system:controlplane"
NODE_SERVER_DOMAIN = "node.corral.internal"

JOIN_METHOD = "/corral.v1.Api/Join"
RENEW_METHOD = "/corral.v1.Api/RenewCertificate"


class JoinError(Exception):
    """Joining the cluster failed; the message says why and what to do."""


class CAHashMismatch(JoinError):
    """The control plane's CA is not the one pinned with --ca-cert-hash."""


class JoinRefused(JoinError):
    """The control plane said no (bad token, CSR refused, ...)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"the control plane refused: {code.name}: {message}")
        self.code = code


def node_server_name(node_name: str) -> str:
    """The TLS name the control plane expects from this node's agent service."""
    return f"{node_name}.{NODE_SERVER_DOMAIN}"
