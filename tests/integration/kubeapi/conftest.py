"""A control plane (TLS, no loops, its own etcd) for the Kubernetes API tests, shared by a
module, and an HTTPS client with a certificate from its CA (the admin, or any identity)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from controlplane.security import pki
from tests.support.controlplane import ControlPlaneProcess


class Rest:
    """requests against the Kubernetes API with one client certificate (or none)."""

    def __init__(self, url: str, ca: Path, cert: tuple[str, str] | None) -> None:
        self.url, self.ca, self.cert = url, ca, cert
        self.session = requests.Session()

    def __call__(self, method: str, path: str, body: Any = None, *,
                 content_type: str = "application/json", **kw: Any) -> requests.Response:
        data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        headers = dict(kw.pop("headers", {}))
        if data is not None:
            headers.setdefault("Content-Type", content_type)
        return self.session.request(method, self.url + path, data=data, headers=headers,
                                    verify=str(self.ca), cert=self.cert,
                                    timeout=kw.pop("timeout", 30), **kw)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        r = self(method, path, body, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()


@pytest.fixture(scope="module")
def cp() -> Iterator[ControlPlaneProcess]:
    with ControlPlaneProcess("", tls=True, loops=False) as c:
        yield c


def _write(tmp: Path, name: str, kp: pki.KeyPair) -> tuple[str, str]:
    (tmp / f"{name}.crt").write_bytes(kp.cert_pem)
    (tmp / f"{name}.key").write_bytes(kp.key_pem)
    return str(tmp / f"{name}.crt"), str(tmp / f"{name}.key")


@pytest.fixture(scope="module")
def certs(cp: ControlPlaneProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("certs")
    ca = pki.ClusterCA.load_or_create(cp.dir / "data" / "pki")
    (tmp / "ca.crt").write_bytes(ca.cert_pem)
    return {"ca": tmp / "ca.crt", "admin": _write(tmp, "admin", ca.issue_admin()),
            "node-1": _write(tmp, "node-1", ca.issue_node("node-1")),
            "nobody": _write(tmp, "nobody", ca.issue_client("jane", ["devs"]))}


@pytest.fixture(scope="module")
def api(cp: ControlPlaneProcess, certs: dict[str, Any]) -> Rest:
    return Rest(cp.kube_url, certs["ca"], certs["admin"])


def as_(cp: ControlPlaneProcess, certs: dict[str, Any], who: str | None) -> Rest:
    return Rest(cp.kube_url, certs["ca"], certs[who] if who else None)


def pod(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "demo"}], **spec}}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": "demo",
                                                           "env": [{"name": "A",
                                                                    "value": "1"}]}]}}}}
