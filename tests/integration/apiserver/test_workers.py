"""`corral-controlplane --api-workers 2`: two processes serve the same ports.

Both doors (gRPC and the Kubernetes HTTP API) are bound by the control plane and
its worker with SO_REUSEPORT; connections spread over the two; a worker that dies
is started again; the workers go when the control plane stops.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import grpc

from controlplane import workers
from proto import api_pb2, api_pb2_grpc
from tests.integration.apiserver.test_api import pod
from tests.support.controlplane import ControlPlaneProcess
from tests.support.etcd import EtcdProcess


def listeners(port: int) -> set[int]:
    """pids of the processes with a listening TCP socket on `port` (gRPC binds
    127.0.0.1 as the v4-mapped ::ffff:127.0.0.1, aiohttp as plain IPv4)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for ln in Path(table).read_text().splitlines()[1:]:
            f = ln.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":   # LISTEN
                inodes.add(f"socket:[{f[9]}]")
    pids = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (d / "fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            pids.add(int(d.name))
    return pids


def wait_for(pred, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)   # polling a condition with a deadline
    return False


def test_worker_argv_keeps_flags_and_binds_the_same_ports() -> None:
    argv = workers.worker_argv(
        ["--embedded-etcd", "--api-workers", "3", "--data-dir", "/d", "--profile=demo",
         "--api-workers=3"],
        parent=42, etcd="127.0.0.1:2379", listen="0.0.0.0:6445", kube_listen="0.0.0.0:6443",
        bootstrap_listen="0.0.0.0:6444")
    rest = argv[3:]
    assert "--embedded-etcd" not in rest and "--api-workers" not in " ".join(rest)
    assert rest[:3] == ["--data-dir", "/d", "--profile=demo"]

    def value(flag: str) -> str:
        return rest[rest.index(flag) + 1]

    assert value("--etcd") == "127.0.0.1:2379"
    assert value("--listen") == "0.0.0.0:6445" and value("--kube-listen") == "0.0.0.0:6443"
    assert value("--bootstrap-listen") == "0.0.0.0:6444"
    assert value("--api-worker-of") == "42" and value("--metrics-listen") == "0"
    assert "--no-loops" in rest


def test_two_processes_serve_both_doors(etcd: EtcdProcess) -> None:
    with ControlPlaneProcess(etcd.endpoint, extra_args=["--api-workers", "2"]) as cp:
        assert cp.pid is not None
        grpc_port, kube_port = cp.port, cp.kube_port
        assert wait_for(lambda: len(listeners(grpc_port)) == 2
                        and len(listeners(kube_port)) == 2), cp.log()
        worker = (listeners(grpc_port) - {cp.pid}).pop()
        assert listeners(kube_port) == {cp.pid, worker}
        # a write through one door is read through the other, over many connections
        # (some land on each process)
        for i in range(6):
            with grpc.insecure_channel(cp.address) as ch:
                api_pb2_grpc.ApiStub(ch).Create(
                    api_pb2.CreateRequest(object=pod(f"w{i}", "default")), timeout=10)
            with urllib.request.urlopen(
                    f"{cp.kube_url}/api/v1/namespaces/default/pods/w{i}", timeout=10) as r:
                assert json.load(r)["metadata"]["name"] == f"w{i}"
        # a worker that dies is started again
        os.kill(worker, signal.SIGKILL)
        assert wait_for(lambda: len(listeners(grpc_port) - {cp.pid, worker}) == 1), cp.log()
        again = (listeners(grpc_port) - {cp.pid}).pop()
        assert cp.stop() == 0, cp.log()
        assert wait_for(lambda: not Path(f"/proc/{again}").exists()
                        or "Z" in Path(f"/proc/{again}/stat").read_text().split()[2]), \
            "the API worker outlived its control plane"
        assert not listeners(grpc_port)
