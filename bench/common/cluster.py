"""A local cluster for a benchmark (`corral cluster up` in a temp directory, always
torn down), and the pod manifests benchmarks create on it."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.common.procs import run
from bench.common.trees import system_env


class LocalCluster:
    """``corral cluster up`` in a temp CORRAL_CLUSTERS_DIR; ``close()`` always downs it."""

    def __init__(self, nodes: int = 3, profile: str = "demo", prefix: str = "bench") -> None:
        self.name = prefix + secrets.token_hex(2)
        self.nodes = nodes
        self.profile = profile
        self.tmp = Path(tempfile.mkdtemp(prefix="corral-bench-"))
        self.env = {**system_env(), "CORRAL_CLUSTERS_DIR": str(self.tmp / "clusters"),
                    "CORRAL_CONFIG": str(self.tmp / "config")}
        self.env.pop("CORRAL_SERVER", None)
        self.up_seconds = 0.0
        self.up_output = ""
        self._started = False

    def corral(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        r = run([sys.executable, "-m", "corral.cli.main", *args], env=self.env,
                timeout=timeout, check=check)
        return r.stdout + r.stderr

    def up(self, timeout: float = 120) -> None:
        self._started = True
        t0 = time.perf_counter()
        self.up_output = self.corral("cluster", "up", "--name", self.name, "--nodes",
                                     str(self.nodes), "--profile", self.profile,
                                     timeout=timeout + 30)
        self.up_seconds = time.perf_counter() - t0

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = json.loads(
            (self.tmp / "clusters" / self.name / "cluster.json").read_text())
        return rec

    @property
    def server(self) -> str:
        rec = self.record()
        return f"{rec['gateway']}:{rec['api_port']}"

    def client(self) -> Any:
        """A ``corral.client.Client`` as the CLI would make it (the context that
        ``cluster up`` wrote to CORRAL_CONFIG, with its credentials if any)."""
        from corral import config
        from corral.client import Client

        s = config.resolve(config.load(self.tmp / "config"))
        return Client(s.server, s.credentials)

    def down(self) -> float:
        t0 = time.perf_counter()
        if self._started:
            self.corral("cluster", "down", "--name", self.name, check=False, timeout=300)
            self._started = False
        return time.perf_counter() - t0

    def close(self) -> None:
        try:
            self.down()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def local_cluster(nodes: int = 3, profile: str = "demo") -> Iterator[LocalCluster]:
    c = LocalCluster(nodes, profile)
    try:
        c.up()
        yield c
    finally:
        c.close()


def pod_doc(name: str, *, namespace: str = "default", image: str = "demo:latest",
            command: Sequence[str] = ("sleep", "100000"), node: str = "",
            labels: dict[str, str] | None = None, cpu: str = "10m",
            memory: str = "8Mi") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 0,
        "containers": [{
            "name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
            "command": list(command),
            "resources": {"requests": {"cpu": cpu, "memory": memory}},
        }],
    }
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": spec}

