"""The API fault tests' real etcd and `python -m controlplane` process (API only: no
loops write behind the tests' back), shared by the package, and their helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from corral import credentials as cli_credentials
from proto import api_pb2, codec
from tests.support.controlplane import ControlPlaneProcess
from tests.support.etcd import EtcdProcess

RESOURCES = ("pods", "deployments", "replicasets", "namespaces", "nodes", "events", "leases")


@pytest.fixture(scope="package")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as e:
        yield e


@pytest.fixture(scope="package")
def cp(etcd: EtcdProcess) -> Iterator[ControlPlaneProcess]:
    with ControlPlaneProcess(etcd.endpoint, loops=False,
                             extra_args=["--compaction-interval", "0"]) as c:
        yield c


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
