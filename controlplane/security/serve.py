"""The control plane's security hook (see controlplane/__main__.py): flags + ApiServer kwargs.

    corral-controlplane [--tls-san 10.0.0.5 ...] [--bootstrap-listen 0.0.0.0:6444]
                        [--bootstrap-token abcdef.0123456789abcdef --bootstrap-token-ttl 24h]
    corral-controlplane --insecure --listen 127.0.0.1:6445     # plaintext, loopback only

TLS is ON by default (`--tls` is accepted and changes nothing):
  * the cluster CA (DATA_DIR/pki) is created on first start and loaded afterwards;
    its hash is logged and written to DATA_DIR/pki/ca.hash for agents' --ca-cert-hash;
  * --listen serves mutual TLS (client certificates from the cluster CA required);
  * --bootstrap-listen serves TLS without client certificates: Join and health only;
  * every RPC is authenticated (AuthInterceptor) and authorized (authz.authorize);
  * Join / RenewCertificate are served by wire.JoinInterceptor, the token RPCs by the
    API service (admins only);
  * the API server dials agents with its system:controlplane client certificate and
    accepts only the node's own certificate from them;
  * DATA_DIR/admin.conf (0600) is a CLI config with an admin certificate;
  * --bootstrap-token makes sure that token exists (e.g. from the local-cluster tool).

`--insecure` serves plaintext with no authentication at all, and is refused unless
every listen address is a loopback address (127.0.0.0/8, ::1, localhost): never an
open API, let alone an open exec endpoint, on a network.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

import grpc

from common.files import write_atomic
from common.netaddr import host_of, is_loopback
from controlplane import errors
from controlplane.rpc import ChannelFactory
from controlplane.security import authn, authz, setup, tokens, wire
from controlplane.security.etcdkv import EtcdKeyValue
from controlplane.security.flags import add_arguments, duration
from controlplane.store.etcdio import Connection
from proto import api_pb2

__all__ = ["ServerOptions", "add_arguments", "duration", "prepare", "server_security"]

log = logging.getLogger(__name__)

class InsecureRefused(ValueError):
    """--insecure with a listen address another machine could reach."""


def check_insecure(addresses: list[str]) -> None:
    """InsecureRefused unless every address is loopback."""
    bad = [a for a in addresses if a and not is_loopback(a)]
    if bad:
        raise InsecureRefused(
            f"--insecure serves the API (exec included) to anyone who can connect, so it "
            f"is only allowed on loopback addresses (127.0.0.0/8, ::1); refusing to listen "
            f"on {', '.join(bad)}. Drop --insecure to serve TLS with client certificates")


def authorize_current(verb: str, resource: str, namespace: str = "", name: str = "",
                      obj: api_pb2.Object | None = None, old: api_pb2.Object | None = None,
                      *, field_selector: str = "", grace_period_seconds: int | None = None,
                      used_by_nodes: frozenset[str] | None = None) -> None:
    """The ApiService hook: authz.authorize for the identity AuthInterceptor established."""
    ident = authn.current_identity()
    if ident is None:
        raise errors.Unauthenticated("this call has no authenticated identity")
    authz.authorize(ident, verb, resource, namespace, name, obj, old,
                    field_selector=field_selector, grace_period_seconds=grace_period_seconds,
                    used_by_nodes=used_by_nodes)


class ServerOptions(TypedDict, total=False):
    """ApiServer's security keywords (controlplane/apiserver/server.py); none: plaintext."""

    credentials: grpc.ServerCredentials | None
    extra_ports: Sequence[tuple[str, grpc.ServerCredentials | None]]
    interceptors: Sequence[grpc.aio.ServerInterceptor]
    authorize: authz.Authorize | None
    agent_channel: ChannelFactory | None
    tokens: tokens.BootstrapTokens | None


def prepare(args: argparse.Namespace) -> setup.ControlPlaneCredentials | None:
    """The part of `server_security` that needs no etcd: the cluster CA (made on first
    start), the server certificate, DATA_DIR/pki/ca.hash and admin.conf. The control
    plane calls it before etcd has started, so that a local cluster can start its
    agents (which join with the CA hash) while etcd comes up. None with --insecure."""
    if getattr(args, "insecure", False):
        return None
    data_dir = Path(args.data_dir)
    listen_host = host_of(args.listen)
    kube = getattr(args, "kube_listen", "")
    kube_host = host_of(kube) if kube and kube != "0" else ""
    server = args.listen if listen_host not in ("0.0.0.0", "::", "") \
        else "127.0.0.1:" + args.listen.rpartition(":")[2]
    kube_server = ""
    if kube != "0":   # the Kubernetes API (controlplane/httpapi/serve.py: port 6443)
        kube_addr = kube or f"{server.rpartition(':')[0]}:6443"
        if host_of(kube_addr) in ("0.0.0.0", "::", ""):
            kube_addr = "127.0.0.1:" + kube_addr.rpartition(":")[2]
        kube_server = f"https://{kube_addr}"
    # a clustered member's certificate names every member it knows (clients that list
    # several members verify any of them under one name: corral/endpoints.py)
    plan = getattr(args, "member_plan", None)
    members = list(plan.known.addresses) if plan is not None else []
    sec = setup.prepare(data_dir, [listen_host, kube_host, *members, *args.tls_san],
                        server=server, kubernetes_server=kube_server)
    write_atomic(data_dir / "pki" / "ca.hash", (sec.ca.ca_hash() + "\n").encode(), mode=0o644)
    return sec


async def _ensure_token(store: tokens.BootstrapTokens, token: str, ttl: dt.timedelta,
                        usage: str, flag: str) -> None:
    tokens.parse(token)   # MalformedToken before anything else
    try:
        await store.create(ttl=ttl, token=token, description=flag, usages=(usage,))
        log.info("bootstrap token %s (%s) created", token.split(".")[0], usage)
    except errors.AlreadyExists:
        pass


async def server_security(args: argparse.Namespace, etcd: Connection,
                          extra_handlers: wire.Handlers | None = None) -> ServerOptions:
    """`extra_handlers`: more methods the JoinInterceptor serves (the members' RPCs)."""
    if getattr(args, "insecure", False):
        if getattr(args, "tls", False):
            raise InsecureRefused("--tls and --insecure exclude each other")
        kube = getattr(args, "kube_listen", "")
        check_insecure([args.listen, getattr(args, "bootstrap_listen", ""),
                        "" if kube == "0" else kube])
        log.warning("serving the API in PLAINTEXT without authentication on %s (--insecure)",
                    args.listen)
        return {}
    sec = getattr(args, "prepared_security", None) or prepare(args)
    assert sec is not None
    listen_host = host_of(args.listen)
    store = tokens.BootstrapTokens(EtcdKeyValue(etcd))
    if args.bootstrap_token:
        await _ensure_token(store, args.bootstrap_token, args.bootstrap_token_ttl,
                            tokens.USAGE_JOIN, "--bootstrap-token")
    if getattr(args, "controlplane_token", ""):
        await _ensure_token(store, args.controlplane_token, args.bootstrap_token_ttl,
                            tokens.USAGE_JOIN_CONTROLPLANE, "--controlplane-token")
    bootstrap = args.bootstrap_listen or f"{listen_host or '0.0.0.0'}:6444"
    if ":" in listen_host and not args.bootstrap_listen:
        bootstrap = f"[{listen_host}]:6444"
    return {
        "credentials": sec.api_server_credentials(),
        "extra_ports": [(bootstrap, sec.bootstrap_server_credentials())],
        "interceptors": [sec.interceptor(),
                         wire.JoinInterceptor({**wire.join_handlers(sec.ca, store),
                                               **(extra_handlers or {})})],
        "authorize": authorize_current,
        "agent_channel": sec.agent_channel,
        "tokens": store,
    }
