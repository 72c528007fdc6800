"""What the API fault tests share: a channel to the control plane with its admin
credentials, and small manifests."""

from __future__ import annotations

from typing import Any

import grpc

from corral import credentials as cli_credentials
from proto import api_pb2, codec
from tests.support.controlplane import ControlPlaneProcess


def channel(cp: ControlPlaneProcess) -> grpc.Channel:
    return cli_credentials.secure_channel(cp.address, cp.credentials)


def obj(doc: dict[str, Any]) -> api_pb2.Object:
    return codec.decode(doc)


def dep_doc(name: str, replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "demo:1"}]}}}}


def pod_doc(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "demo:1"}]}}
