"""The agent's credentials: join with a bootstrap token, keep and renew its certificate.

    creds = await ensure_credentials(data_dir, node_name,
                                     bootstrap="10.0.0.5:6444", token="abcdef.0123456789abcdef",
                                     ca_hash="sha256:...", server="10.0.0.5:6445")
    channel = grpc.aio.secure_channel("10.0.0.5:6445", channel_credentials(creds))
    server.add_secure_port(listen, agent_server_credentials(creds))  # + ControlPlaneOnly
    await run_renewal(server_address, creds_dir, node_name, on_renewed=...)

Rooms: errors.py (errors, shared names), der.py (reads a certificate's
validity, subject and key without third-party imports), store.py (the files
in `<data-dir>/pki` and their checks), keys.py (keys, CSRs, the CA pin: the
only place `cryptography` is imported, lazily), join.py (CA discovery pinned
by hash, Join, stored-or-join), renew.py, channel.py (gRPC credentials),
guard.py (only the control plane may call the agent), tls.py (AgentTLS).

An agent that starts with stored credentials imports no `cryptography`:
keys are made only on joining and renewal.

Imports: proto, grpc, cryptography (lazily) and the standard library only.
"""

from __future__ import annotations

from google.protobuf.message import Message

from agent.security.channel import (
    ReloadingServerCredentials,
    agent_server_credentials,
    channel_credentials,
)
from agent.security.errors import (
    CONTROLPLANE_USER,
    JOIN_METHOD,
    NODE_SERVER_DOMAIN,
    NODE_USER_PREFIX,
    NODES_GROUP,
    RENEW_METHOD,
    CAHashMismatch,
    JoinError,
    JoinRefused,
    node_server_name,
)
from agent.security.guard import ControlPlaneOnly
from agent.security.join import discover_ca, ensure_credentials, join
from agent.security.keys import ca_hash, new_key_and_csr, parse_ca_hash
from agent.security.renew import renew, renewals, run_renewal
from agent.security.store import CA_FILE, CERT_FILE, KEY_FILE, RENEW_FRACTION, NodeCredentials
from agent.security.tls import AgentTLS
from proto import api_pb2

__all__ = [
    "CA_FILE", "CERT_FILE", "CONTROLPLANE_USER", "JOIN_METHOD", "KEY_FILE", "NODES_GROUP",
    "NODE_SERVER_DOMAIN", "NODE_USER_PREFIX", "RENEW_FRACTION", "RENEW_METHOD", "AgentTLS",
    "CAHashMismatch", "ControlPlaneOnly", "JoinError", "JoinRefused", "NodeCredentials",
    "ReloadingServerCredentials", "agent_server_credentials", "ca_hash", "channel_credentials",
    "discover_ca", "ensure_credentials", "join", "messages", "new_key_and_csr",
    "node_server_name", "parse_ca_hash", "renew", "renewals", "run_renewal",
]


def messages() -> dict[str, type[Message]]:
    """JoinRequest, JoinResponse, RenewCertificateRequest: the generated proto.api_pb2 classes."""
    return {"JoinRequest": api_pb2.JoinRequest, "JoinResponse": api_pb2.JoinResponse,
            "RenewCertificateRequest": api_pb2.RenewCertificateRequest}
