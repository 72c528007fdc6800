"""A kubeconfig for the cluster of a corral context, so an unmodified kubectl (or any
Kubernetes client library) reaches the control plane's Kubernetes API with the same
certificate as `corral`.

    doc = build(ctx, name="corral-dev")               # a kubeconfig dict
    merged = merge(existing_doc, doc)                 # into ~/.kube/config, by name

The Kubernetes API's URL comes from the context's `kubernetes-server` (the control
plane writes it into admin.conf; `corral cluster up` into its context), else the
context's gRPC host on port 6443.

Several control-plane members (`kubernetes-server: https://a:6443,https://b:6443`):
kubectl takes ONE server per cluster entry and does not fail over, so the kubeconfig
has one cluster and context per member: `name` for the first, `name-2`, `name-3`...
for the others (same user, same CA). When the first member is down, `kubectl
--context name-2 ...`; for failover without switching, put a TCP load balancer or a
DNS name over the members' port 6443 and name it with the control planes'
`--tls-san` (the members' certificates already carry every member's address).
"""

from __future__ import annotations

import base64
import copy
import os
from pathlib import Path
from typing import Any

from corral.config import ConfigError, Context

KUBE_PORT = 6443


def server_urls(ctx: Context, server: str = "") -> list[str]:
    """The Kubernetes API's URL of every member (one for a single control plane)."""
    if server:
        return [u if "://" in u else f"https://{u}" for u in server.split(",") if u.strip()]
    if ctx.kubernetes_server:
        return [u.strip() for u in ctx.kubernetes_server.split(",") if u.strip()]
    out = []
    for address in (ctx.server or "127.0.0.1:6445").split(","):
        host = address.strip().rpartition(":")[0]
        for prefix in ("grpc://", "grpcs://", "https://", "http://"):
            host = host.removeprefix(prefix)
        out.append(f"https://{host or '127.0.0.1'}:{KUBE_PORT}")
    return out


def server_url(ctx: Context, server: str = "") -> str:
    return server_urls(ctx, server)[0]


def _b64(data: bytes | None) -> str:
    return base64.b64encode(data or b"").decode()


def build(ctx: Context, name: str, server: str = "") -> dict[str, Any]:
    """A kubeconfig with a cluster, user and context named `name` (material inline), and
    with several members a cluster and context `name-2`, `name-3`... for each other one."""
    urls = server_urls(ctx, server)
    doc = _build_one(ctx, name, urls[0])
    for k, url in enumerate(urls[1:], start=2):
        other = _build_one(ctx, name, url)
        cname = f"{name}-{k}"
        doc["clusters"].append({"name": cname, "cluster": other["clusters"][0]["cluster"]})
        doc["contexts"].append({"name": cname, "context": {**doc["contexts"][0]["context"],
                                                           "cluster": cname}})
    return doc


def _build_one(ctx: Context, name: str, url: str) -> dict[str, Any]:
    creds = ctx.credentials()
    cluster: dict[str, Any] = {"server": url}
    user: dict[str, Any] = {}
    if creds is not None:
        if creds.ca_cert:
            cluster["certificate-authority-data"] = _b64(creds.ca_cert)
        if creds.server_name:
            cluster["tls-server-name"] = creds.server_name
        if creds.client_cert and creds.client_key:
            user["client-certificate-data"] = _b64(creds.client_cert)
            user["client-key-data"] = _b64(creds.client_key)
    elif url.startswith("https://"):
        raise ConfigError(f'context "{ctx.name}" has no TLS material for {url}')
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name,
                                                "namespace": ctx.namespace or "default"}}],
        "current-context": name,
    }


def merge(existing: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """`new`'s cluster, user and context replace those of the same names in `existing`;
    the others stay; the current context becomes `new`'s."""
    out = copy.deepcopy(existing) if existing else {"apiVersion": "v1", "kind": "Config",
                                                    "preferences": {}}
    for section in ("clusters", "users", "contexts"):
        items = out.get(section) or []
        if not isinstance(items, list):
            raise ConfigError(f"kubeconfig: {section} must be a list")
        names = {i["name"] for i in new[section]}
        out[section] = [i for i in items if not (isinstance(i, dict) and
                                                 i.get("name") in names)] + new[section]
    out["current-context"] = new["current-context"]
    return out


def default_path() -> Path:
    """The first file of $KUBECONFIG, else ~/.kube/config (where kubectl writes)."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first).expanduser() if first else Path("~/.kube/config").expanduser()
