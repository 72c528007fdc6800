"""`corral config kubeconfig` for a highly available control plane: kubectl takes one
server per cluster entry and does not fail over, so every member gets its own cluster
and context (the first under the given name), with the same CA and user."""

from __future__ import annotations

import base64

import pytest

from corral import kubeconfig
from corral.config import ConfigError, Context

CA = b"-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
CERT = b"-----BEGIN CERTIFICATE-----\nADMIN\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN EC PRIVATE KEY-----\nK\n-----END EC PRIVATE KEY-----\n"


def ctx(**kw: str) -> Context:
    return Context(name="ha", namespace="team", certificate_authority_data=CA.decode(),
                   client_certificate_data=CERT.decode(), client_key_data=KEY.decode(), **kw)


def by_name(doc: dict, section: str) -> dict:
    return {i["name"]: i[section.rstrip("s")] for i in doc[section]}


def test_one_cluster_and_context_per_member() -> None:
    doc = kubeconfig.build(ctx(server="10.0.0.5:6445,10.0.0.6:6445,10.0.0.7:6445",
                               kubernetes_server="https://10.0.0.5:6443,https://10.0.0.6:6443,"
                                                 "https://10.0.0.7:6443"), name="corral-ha")
    clusters = by_name(doc, "clusters")
    assert {n: c["server"] for n, c in clusters.items()} == {
        "corral-ha": "https://10.0.0.5:6443", "corral-ha-2": "https://10.0.0.6:6443",
        "corral-ha-3": "https://10.0.0.7:6443"}
    assert all(base64.b64decode(c["certificate-authority-data"]) == CA
               for c in clusters.values())
    contexts = by_name(doc, "contexts")
    assert sorted(contexts) == ["corral-ha", "corral-ha-2", "corral-ha-3"]
    assert all(c["user"] == "corral-ha" and c["namespace"] == "team" for c in contexts.values())
    assert {n: c["cluster"] for n, c in contexts.items()} == {n: n for n in contexts}
    assert [u["name"] for u in doc["users"]] == ["corral-ha"]
    assert doc["current-context"] == "corral-ha"


def test_without_kubernetes_server_every_grpc_member_on_6443() -> None:
    urls = kubeconfig.server_urls(ctx(server="10.0.0.5:6445, 10.0.0.6:6445"))
    assert urls == ["https://10.0.0.5:6443", "https://10.0.0.6:6443"]


def test_one_control_plane_one_context() -> None:
    doc = kubeconfig.build(ctx(server="10.0.0.5:6445"), name="solo")
    assert [c["name"] for c in doc["contexts"]] == ["solo"]
    assert doc["clusters"][0]["cluster"]["server"] == "https://10.0.0.5:6443"


def test_merge_replaces_the_members_entries_only() -> None:
    old = kubeconfig.build(ctx(server="10.0.0.9:6445"), name="other")
    new = kubeconfig.build(ctx(server="10.0.0.5:6445,10.0.0.6:6445"), name="ha")
    merged = kubeconfig.merge(kubeconfig.merge(old, new), new)
    assert sorted(c["name"] for c in merged["contexts"]) == ["ha", "ha-2", "other"]


def test_an_https_member_without_tls_material_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no TLS material"):
        kubeconfig.build(Context(name="bare", server="10.0.0.5:6445,10.0.0.6:6445"), "x")
