"""A hollow agent for the CLI tests: fake nodes that report pods Running and Ready and
confirm deletions (`python -m agent.hollow`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

from corral.client import Client
from proto import api_pb2
from tests.integration.cli.helpers import REPO, wait_for
from tests.support.controlplane import ControlPlaneProcess

PREFIX = "hollow-"


@contextlib.contextmanager
def hollow_nodes(controlplane: ControlPlaneProcess) -> Iterator[list[str]]:
    """Two Ready nodes; yields their names once both are Ready."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.hollow", "--server", controlplane.address, "--nodes", "2",
         "--prefix", PREFIX, "--profile", "demo", "--log-level", "warning",
         *(["--admin-config", str(controlplane.admin_config)] if controlplane.tls
           else ["--insecure"])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env)
    try:
        with Client(controlplane.address, controlplane.credentials) as c:
            def ready(objs: list[api_pb2.Object]) -> bool:
                return sum(1 for o in objs if o.node.metadata.name.startswith(PREFIX) and any(
                    cond.type == "Ready" and cond.status == "True"
                    for cond in o.node.status.conditions)) >= 2

            wait_for(c, "nodes", "", ready, timeout=60)
            names = sorted(o.node.metadata.name for o in c.list("nodes").items
                           if o.node.metadata.name.startswith(PREFIX))
        yield names
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
