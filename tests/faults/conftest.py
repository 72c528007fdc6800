"""Fault-tolerance suite: break one thing, then check that nothing was lost.

Every fault test either drives a whole local cluster (`corral cluster up`, the
e2e helpers) or a real etcd + control plane process. Clusters are shared by the
tests of one module (module-scoped fixtures); each test makes its own objects
and removes them. Everything a test makes on the host is removed even when it
fails, and `leftovers()` checks it.

The helpers that read a node the way its agent does, from the host, are in
nodeview.py (re-exported here for the tests that take them from this module).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from corral import credentials as cli_credentials
from localcluster import procs, state
from localcluster import up as cluster_up
from proto import api_pb2_grpc
from tests.e2e.conftest import Cluster, down, up, wait_for

from .nodeview import orphans, residue, running_pids, runtime_containers, uid_hash

__all__ = ["Cluster", "cluster_fixture", "orphans", "residue", "running_pids",
           "runtime_containers", "uid_hash", "wait_for"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        for item in items:
            if "tests/faults" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason="fault tests need root"))


# ---- clusters ------------------------------------------------------------------------------

@contextmanager
def cluster_fixture(tmp_path_factory: pytest.TempPathFactory, prefix: str,
                    nodes: int = 3, control_planes: int = 1) -> Iterator[Cluster]:
    """A local cluster for one module; down and checked for leftovers after."""
    name = prefix + secrets.token_hex(2)
    tmp = tmp_path_factory.mktemp("faults-" + prefix)
    c = up(name, tmp, nodes=nodes, control_planes=control_planes)   # undone if it fails
    try:
        yield c
    finally:
        # a test may have left the control plane or an agent dead: down handles both
        left = down(c)
        assert not left, f"cluster down left: {left}"


def record(c: Cluster) -> state.ClusterRecord:
    raw = c.record()
    nodes = [state.NodeRecord(**n) for n in raw.pop("nodes", [])]
    members = [state.ControlPlaneRecord(**m) for m in raw.pop("controlplanes", [])]
    return state.ClusterRecord(**raw, nodes=nodes, controlplanes=members)


def node_of(c: Cluster, name: str) -> state.NodeRecord:
    return next(n for n in record(c).nodes if n.name == name)


@contextmanager
def api(c: Cluster) -> Iterator[api_pb2_grpc.ApiStub]:
    """The cluster's Api service, with the admin credentials `cluster up` made."""
    rec = record(c)
    with cli_credentials.secure_channel(rec.server, cluster_up.admin_credentials(rec)) as ch:
        yield api_pb2_grpc.ApiStub(ch)


def apply(c: Cluster, doc: dict[str, Any] | list[dict[str, Any]]) -> str:
    """`corral apply -f -` with the documents on stdin."""
    docs = doc if isinstance(doc, list) else [doc]
    text = yaml.safe_dump_all(docs)
    r = subprocess.run([*corral_argv(), "apply", "-f", "-"], input=text, env=c.env,
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"corral apply exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def corral_argv() -> list[str]:
    import sys
    return [sys.executable, "-m", "corral.cli.main"]


def deployment(name: str, replicas: int, command: str, *, grace: int = 1,
               image: str = "demo:latest", limits: dict[str, str] | None = None,
               requests: dict[str, str] | None = None, namespace: str = "default",
               **pod_spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image,
                                 "command": ["sh", "-c", command]}
    res: dict[str, Any] = {}
    if limits:
        res["limits"] = limits
    if requests:
        res["requests"] = requests
    if res:
        container["resources"] = res
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"terminationGracePeriodSeconds": grace, "containers": [container],
                         **pod_spec},
            },
        },
    }


def pod(name: str, command: str, *, grace: int = 1, image: str = "demo:latest",
        limits: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image, "command": ["sh", "-c", command]}
    if limits:
        container["resources"] = {"limits": limits}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": grace, "containers": [container], **spec}}


def delete_and_wait(c: Cluster, kind: str, name: str, selector: str,
                    timeout: float = 90) -> None:
    """Delete a workload and wait until its pods are gone from the API."""
    c.corral("delete", kind, name, "--wait=false", check=False)
    wait_for(lambda: not c.pods(selector), timeout, f"the pods of {kind}/{name} gone")


# ---- the control plane process of a cluster -------------------------------------------------

def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def kill_controlplane(c: Cluster) -> None:
    """SIGKILL the control plane; its embedded etcd dies with it (PDEATHSIG)."""
    rec = record(c)
    pid = rec.controlplane_pid
    if procs.alive(pid):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not procs.alive(pid), 15, "the control plane gone")
    try:
        os.waitpid(pid, os.WNOHANG)     # ours when this process started it
    except ChildProcessError:
        pass
    port = cluster_up.etcd_ports(rec)[0]
    wait_for(lambda: not _port_open(port), 20, "the embedded etcd gone")


def start_controlplane(c: Cluster, timeout: float = 60) -> None:
    """Start the control plane again on the same data dir (and its etcd)."""
    rec = record(c)
    assert not procs.alive(rec.controlplane_pid), "the control plane is running"
    rec.controlplane_pid = procs.start(cluster_up.controlplane_argv(rec),
                                       Path(rec.dir) / "logs" / "controlplane.log")
    rec.save()
    wait_for(lambda: cluster_up.ready_nodes(rec.server, cluster_up.admin_credentials(rec))
             or _serving(c), timeout, "the control plane answering")


def _serving(c: Cluster) -> bool:
    try:
        with api(c) as stub:
            from proto import api_pb2
            stub.List(api_pb2.ListRequest(resource="namespaces"), timeout=2)
        return True
    except grpc.RpcError:
        return False


# ---- the API, cheaply (polling loops use gRPC, not a CLI process per look) ------------------

def list_pods(stub: api_pb2_grpc.ApiStub, selector: str = "",
              namespace: str = "default") -> list[Any]:
    from proto import api_pb2
    resp = stub.List(api_pb2.ListRequest(resource="pods", namespace=namespace,
                                         label_selector=selector), timeout=10)
    return [i.pod for i in resp.items]


def ready_pods(stub: api_pb2_grpc.ApiStub, selector: str, n: int) -> list[Any]:
    """Exactly n pods matching, all Running and Ready, none terminating ([] otherwise)."""
    try:
        pods = list_pods(stub, selector)
    except grpc.RpcError:
        return []
    if len(pods) != n:
        return []
    for p in pods:
        if p.metadata.HasField("deletion_timestamp") or p.status.phase != "Running":
            return []
        if not p.status.container_statuses or \
                not all(cs.ready for cs in p.status.container_statuses):
            return []
    return pods


def node_ready(stub: api_pb2_grpc.ApiStub, name: str) -> bool:
    from proto import api_pb2
    try:
        n = stub.Get(api_pb2.GetRequest(resource="nodes", name=name), timeout=5).node
    except grpc.RpcError:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)


def all_nodes_ready(stub: api_pb2_grpc.ApiStub, names: list[str]) -> bool:
    return all(node_ready(stub, n) for n in names)


def pod_ready(stub: api_pb2_grpc.ApiStub, name: str) -> Any:
    """The pod if it is Running with every container ready, else None."""
    for p in list_pods(stub):
        if p.metadata.name == name and p.status.phase == "Running" \
                and not p.metadata.HasField("deletion_timestamp") \
                and p.status.container_statuses \
                and all(cs.ready for cs in p.status.container_statuses):
            return p
    return None


def wait_empty(fn: Any, timeout: float, what: str, interval: float = 0.5) -> None:
    """Poll fn() until it returns an empty list; fail with the last list at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        last = fn()
        if not last:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}: {last}")
        time.sleep(interval)
