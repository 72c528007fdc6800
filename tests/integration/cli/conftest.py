from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.client import Client
from tests.integration.cli.helpers import REPO, Corral, Result
from tests.integration.cli.hollow import hollow_nodes
from tests.support.controlplane import ControlPlaneProcess
from tests.support.etcd import EtcdProcess

__all__ = ["REPO", "Corral", "Result", "client", "controlplane", "corral", "hollow"]


@pytest.fixture(scope="module")
def controlplane() -> Iterator[ControlPlaneProcess]:
    with EtcdProcess() as etcd:
        cp = ControlPlaneProcess(etcd.endpoint, tls=True)   # as it runs by default: mTLS
        cp.start()
        try:
            yield cp
        finally:
            cp.close()


@pytest.fixture
def corral(controlplane: ControlPlaneProcess, tmp_path: Path) -> Corral:
    return Corral(controlplane.address, tmp_path, controlplane.admin_config)


@pytest.fixture
def client(controlplane: ControlPlaneProcess) -> Iterator[Client]:
    with Client(controlplane.address, controlplane.credentials) as c:
        yield c


@pytest.fixture(scope="module")
def hollow(controlplane: ControlPlaneProcess) -> Iterator[list[str]]:
    """Two Ready nodes of a hollow agent (tests/integration/cli/hollow.py)."""
    with hollow_nodes(controlplane) as names:
        yield names
