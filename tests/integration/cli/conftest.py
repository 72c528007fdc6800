from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from corral.client import Client
from tests.integration.cli.hollow import hollow_nodes
from tests.support.controlplane import ControlPlaneProcess
from tests.support.etcd import EtcdProcess

REPO = Path(__file__).resolve().parents[3]


@dataclass
class Result:
    code: int
    out: str
    err: str


class Corral:
    """Runs `python -m corral.cli.main --server ADDRESS ...` as a subprocess."""

    def __init__(self, address: str, home: Path, admin_config: Path | None = None) -> None:
        self.address = address
        if admin_config is not None:    # the control plane's admin context (TLS, admin cert)
            home.mkdir(parents=True, exist_ok=True)
            (home / "config").write_bytes(admin_config.read_bytes())
            (home / "config").chmod(0o600)
        self.env = dict(os.environ, CORRAL_CONFIG=str(home / "config"),
                        PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.env.pop("CORRAL_SERVER", None)

    def __call__(self, *argv: str, stdin: str | None = None, timeout: float = 60) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "corral.cli.main", "--server", self.address, *argv],
            input=stdin, capture_output=True, text=True, cwd=REPO, env=self.env,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


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
