"""Shared helpers for the CLI integration tests: `corral` as a subprocess, a namespace of
its own, waiting on a watch."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corral.client import Client
from proto import api_pb2, kinds

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


MANIFESTS = REPO / "manifests"


def unique_ns(corral: Corral) -> str:
    ns = "t-" + uuid.uuid4().hex[:8]
    r = corral("apply", "-f", "-", stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n"
                                        f"  name: {ns}\n")
    assert r.code == 0, r.err
    return ns


def wait_for(client: Client, resource: str, ns: str,
             pred: Callable[[list[api_pb2.Object]], bool], timeout: float = 30) -> None:
    """Block (on a watch, no polling) until pred(current objects) holds."""
    lst = client.list(resource, ns)
    objs = {o.SerializeToString(): o for o in lst.items}
    current = {kinds.key_of(o): o for o in objs.values()}
    if pred(list(current.values())):
        return
    stream = client.watch(resource, ns, resource_version=lst.resource_version, timeout=timeout)
    try:
        for ev in stream:
            if ev.type == "DELETED":
                current.pop(kinds.key_of(ev.object), None)
            elif ev.type in ("ADDED", "MODIFIED"):
                current[kinds.key_of(ev.object)] = ev.object
            if pred(list(current.values())):
                return
    finally:
        stream.cancel()
    raise AssertionError(f"condition on {resource} not reached")
