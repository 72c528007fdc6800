"""Everything the control plane process needs at start, in one call.

    sec = prepare(Path(args.data_dir), hosts=["10.0.0.5"], server="10.0.0.5:6445")
    server.add_secure_port(args.listen, sec.api_server_credentials())
    server.add_secure_port(args.bootstrap_listen, sec.bootstrap_server_credentials())
    grpc.aio.server(interceptors=[sec.interceptor()], ...)
    grpc.aio.secure_channel(agent_addr, sec.agent_channel_credentials(),
                            options=[("grpc.ssl_target_name_override", node_server_name(n))])

Files under DATA_DIR/pki (0700): ca.crt, ca.key (0600), apiserver.crt,
apiserver.key (0600); DATA_DIR/admin.conf (0600) is a CLI config with an admin
client certificate (like kubeadm's admin.conf): `CORRAL_CONFIG=.../admin.conf corral get nodes`.
The API server certificate is re-issued when its names change, when it is not
from the current CA, or in the last third of its life. The control plane's own
client identity (system:controlplane, for calling agents) is issued in memory at
every start.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import yaml
from cryptography import x509

from common.files import write_atomic
from controlplane.rpc import ChannelOptions
from controlplane.security import authn, pki

log = logging.getLogger(__name__)

SERVER_CERT, SERVER_KEY = "apiserver.crt", "apiserver.key"
ADMIN_CONFIG = "admin.conf"


@dataclass(frozen=True)
class ControlPlaneCredentials:
    ca: pki.ClusterCA
    server: pki.KeyPair
    client: pki.KeyPair      # system:controlplane, for calling agents

    def api_server_credentials(self, require_client_auth: bool = True) -> grpc.ServerCredentials:
        return authn.api_server_credentials(self.server.cert_pem, self.server.key_pem,
                                            self.ca.cert_pem,
                                            require_client_auth=require_client_auth)

    def bootstrap_server_credentials(self) -> grpc.ServerCredentials:
        return authn.bootstrap_server_credentials(self.server.cert_pem, self.server.key_pem,
                                                  self.ca.cert_pem)

    def agent_channel_credentials(self) -> grpc.ChannelCredentials:
        return authn.channel_credentials(self.ca.cert_pem, self.client.cert_pem,
                                         self.client.key_pem)

    def agent_channel(self, address: str, node_name: str,
                      options: ChannelOptions = ()) -> grpc.aio.Channel:
        """A channel to node `node_name`'s agent that accepts only that node's certificate."""
        return grpc.aio.secure_channel(
            address, self.agent_channel_credentials(),
            options=[*options, ("grpc.ssl_target_name_override",
                                pki.node_server_name(node_name))])

    def interceptor(self) -> authn.AuthInterceptor:
        return authn.AuthInterceptor(authn.Authenticator(self.ca.cert))


def _names(cert: x509.Certificate) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(n.value) for n in ext}


def _wanted(hosts: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for h in [*hosts, "127.0.0.1", "localhost"]:
        h = h.strip().strip("[]")
        if not h or h in ("0.0.0.0", "::"):
            continue
        try:
            out.add(str(ipaddress.ip_address(h)))
        except ValueError:
            out.add(h)
    return out


def _server_keypair(ca: pki.ClusterCA, directory: Path, hosts: Sequence[str]) -> pki.KeyPair:
    crt, key = directory / SERVER_CERT, directory / SERVER_KEY
    if crt.exists() and key.exists():
        kp = pki.KeyPair(crt.read_bytes(), key.read_bytes())
        cert = x509.load_pem_x509_certificate(kp.cert_pem)
        life = cert.not_valid_after_utc - cert.not_valid_before_utc
        fresh = dt.datetime.now(dt.UTC) < cert.not_valid_before_utc + life * 2 / 3
        if ca.verify_issued(cert) and fresh and _names(cert) == _wanted(hosts):
            return kp
        log.info("re-issuing the API server certificate (names, CA or expiry changed)")
    kp = ca.issue_server(hosts)
    write_atomic(key, kp.key_pem, mode=0o600)
    write_atomic(crt, kp.cert_pem, mode=0o644)
    return kp


def admin_config(server: str, ca_pem: bytes, kp: pki.KeyPair, context: str = "corral",
                 tls_server_name: str = "", kubernetes_server: str = "") -> str:
    """A corral CLI config (corral/config.py's format) with inline PEM material;
    `kubernetes_server` is the Kubernetes API's URL (for `corral config kubeconfig`)."""
    ctx: dict[str, str] = {
        "name": context, "server": server, "namespace": "default",
        "certificate-authority-data": ca_pem.decode(),
        "client-certificate-data": kp.cert_pem.decode(),
        "client-key-data": kp.key_pem.decode(),
    }
    if tls_server_name:
        ctx["tls-server-name"] = tls_server_name
    if kubernetes_server:
        ctx["kubernetes-server"] = kubernetes_server
    return yaml.safe_dump({"current-context": context, "contexts": [ctx]}, sort_keys=False)


def prepare(data_dir: Path, hosts: Sequence[str] = (), *, server: str = "127.0.0.1:6445",
            write_admin_config: bool = True,
            kubernetes_server: str = "") -> ControlPlaneCredentials:
    directory = Path(data_dir) / "pki"
    ca = pki.ClusterCA.load_or_create(directory)
    with pki.locked(directory):
        srv = _server_keypair(ca, directory, hosts)
    admin_path = Path(data_dir) / ADMIN_CONFIG
    if write_admin_config and not admin_path.exists():
        text = admin_config(server, ca.cert_pem, ca.issue_admin(),
                            kubernetes_server=kubernetes_server)
        write_atomic(admin_path, text.encode(), mode=0o600)
        log.info("wrote an admin CLI config to %s", admin_path)
    log.info("cluster CA %s (agents join with --ca-cert-hash %s)", directory / pki.CA_CERT_FILE,
             ca.ca_hash())
    return ControlPlaneCredentials(ca, srv, ca.issue_controlplane_client())
