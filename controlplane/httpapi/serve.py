"""Starting the Kubernetes API beside the gRPC API (called from controlplane/__main__.py).

    --kube-listen HOST:PORT   default: the --listen host, port 6443; "0": not served

TLS with the cluster CA's API server certificate (DATA_DIR/pki), client certificates
from the same CA; with --insecure, plain HTTP without authentication, loopback only
(controlplane/security/serve.py refuses anything else).
"""

from __future__ import annotations

import argparse
import importlib.metadata
from pathlib import Path
from typing import Any

from controlplane.apiserver.access import Access
from controlplane.apiserver.agents import Agents
from controlplane.apiserver.registry import Registry
from controlplane.httpapi import handlers, openapi, tls
from controlplane.httpapi.agentdial import AgentDialer
from controlplane.httpapi.call import House
from controlplane.httpapi.server import KubeApiServer, Observe
from controlplane.workers import reuse_port

KUBE_PORT = 6443


def kube_listen(args: argparse.Namespace) -> str:
    """The address the Kubernetes API listens on ("" when it is off)."""
    value = getattr(args, "kube_listen", "") or ""
    if value == "0":
        return ""
    if value:
        return value
    host = args.listen.rpartition(":")[0]
    return f"{host}:{KUBE_PORT}"


def _version() -> str:
    try:
        return importlib.metadata.version("corral")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


async def start(args: argparse.Namespace, registry: Registry, access: Access,
                agents: Agents, observe: Observe | None = None) -> KubeApiServer | None:
    listen = kube_listen(args)
    if not listen:
        return None
    ssl_context = None
    if not getattr(args, "insecure", False):
        sec: Any = getattr(args, "prepared_security", None)
        if sec is None:
            raise RuntimeError("the Kubernetes API needs the cluster PKI (or --insecure)")
        pki = Path(args.data_dir) / "pki"
        ssl_context = tls.server_context(pki / "apiserver.crt", pki / "apiserver.key",
                                         sec.ca.cert_pem)
    house = House(registry, access, agents, dial_pod=AgentDialer(agents))   # pods' ports
    server = KubeApiServer(house, listen, ssl_context=ssl_context,
                           corral_version=_version(), extra=handlers.EXTRA,
                           documents=openapi.documents, observe=observe,
                           reuse_port=reuse_port(args))
    await server.start()
    return server
