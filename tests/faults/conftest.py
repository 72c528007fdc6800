"""Fault-tolerance suite: break one thing, then check that nothing was lost.

Every fault test either drives a whole local cluster (`corral cluster up`, the
e2e helpers) or a real etcd + control plane process. Clusters are shared by the
tests of one module (module-scoped fixtures); each test makes its own objects
and removes them. Everything a test makes on the host is removed even when it
fails, and `leftovers()` checks it.

Helpers here read a node the way its agent does, from the host: the runtime's
state dir, the node's cgroup subtree, the mount table, the node's network
namespace and its IPAM dir.
"""

from __future__ import annotations

import hashlib
import json
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

__all__ = ["Cluster", "cluster_fixture", "wait_for"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        for item in items:
            if "tests/faults" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason="fault tests need root"))


# ---- clusters ------------------------------------------------------------------------------

@contextmanager
def cluster_fixture(tmp_path_factory: pytest.TempPathFactory, prefix: str,
                    nodes: int = 3) -> Iterator[Cluster]:
    """A local cluster for one module; down and checked for leftovers after."""
    name = prefix + secrets.token_hex(2)
    tmp = tmp_path_factory.mktemp("faults-" + prefix)
    try:
        c = up(name, tmp, nodes=nodes)
    except BaseException:
        env_dir = tmp / "clusters"
        if (env_dir / name / "cluster.json").exists():   # a half-made cluster: undo it
            c = Cluster(name, {**os.environ, "CORRAL_CLUSTERS_DIR": str(env_dir),
                               "CORRAL_CONFIG": str(tmp / "config")}, env_dir)
            down(c)
        raise
    try:
        yield c
    finally:
        # a test may have left the control plane or an agent dead: down handles both
        left = down(c)
        assert not left, f"cluster down left: {left}"


def record(c: Cluster) -> state.ClusterRecord:
    raw = c.record()
    nodes = [state.NodeRecord(**n) for n in raw.pop("nodes", [])]
    return state.ClusterRecord(**raw, nodes=nodes)


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


# ---- a node, seen from the host ------------------------------------------------------------

CGROUP_ROOT = Path("/sys/fs/cgroup")


def runtime_containers(node: state.NodeRecord) -> list[dict[str, Any]]:
    """Every container in the node's runtime state dir: meta.json + state.json + id."""
    out: list[dict[str, Any]] = []
    root = Path(node.data_dir) / "runtime" / "containers"
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        try:
            meta = json.loads((d / "meta.json").read_text())
        except (OSError, ValueError):
            meta = {}
        try:
            st = json.loads((d / "state.json").read_text())
        except (OSError, ValueError):
            st = {}
        out.append({"id": d.name, **meta, "state": st})
    return out


def running_pids(node: state.NodeRecord) -> dict[str, int]:
    """container id -> host PID of every running container on the node."""
    out = {}
    for ctr in runtime_containers(node):
        st = ctr["state"]
        if st.get("pid") and not st.get("finished_at") and procs.alive(int(st["pid"])):
            out[ctr["id"]] = int(st["pid"])
    return out


def uid_hash(uid: str) -> str:
    return hashlib.sha256(uid.encode()).hexdigest()


def node_cgroup_dirs(node: state.NodeRecord) -> list[Path]:
    rel = node.cgroup_root
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        dirs = [CGROUP_ROOT / rel]
    else:
        dirs = [h / rel for h in sorted(CGROUP_ROOT.iterdir())
                if h.is_dir() and not h.is_symlink()]
    return [d for d in dirs if d.is_dir()]


def node_links(node: state.NodeRecord) -> list[str]:
    out = subprocess.run(["ip", "-n", node.netns, "-o", "link"], capture_output=True,
                         text=True, check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def ipam_keys(node: state.NodeRecord) -> dict[str, str]:
    """address file -> the key (pod uid) it is allocated to, in the node's IPAM dir."""
    out = {}
    root = Path(node.data_dir) / "network" / "ipam"
    if root.is_dir():
        for f in root.rglob("*"):
            if f.is_file() and not f.name.startswith(".") and f.name[0].isdigit():
                try:
                    out[str(f.relative_to(root))] = f.read_text().split("\n", 1)[0]
                except OSError:
                    continue
    return out


def residue(node: state.NodeRecord, uids: set[str]) -> list[str]:
    """Anything left on the node for these pod uids: containers, processes, cgroups,
    mounts, network namespaces, veths, addresses, sandbox dirs."""
    out: list[str] = []
    ctr_ids = set()
    for ctr in runtime_containers(node):
        if ctr.get("pod_uid") in uids:
            ctr_ids.add(ctr["id"])
            out.append(f"container {ctr['id']} of pod {ctr['pod_uid']}")
            pid = ctr["state"].get("pid")
            if pid and not ctr["state"].get("finished_at") and procs.alive(int(pid)):
                out.append(f"process {pid} of container {ctr['id']}")
    for uid in uids:
        if (Path(node.data_dir) / "runtime" / "pods" / uid).exists():
            out.append(f"sandbox dir of pod {uid}")
        h = uid_hash(uid)
        if Path(f"/var/run/netns/{node.netns}-{h[:12]}").exists():
            out.append(f"netns {node.netns}-{h[:12]} of pod {uid}")
        if f"veth{h[:11]}" in node_links(node):
            out.append(f"veth{h[:11]} of pod {uid}")
    for addr, key in ipam_keys(node).items():
        if key in uids:
            out.append(f"address {addr} of pod {key}")
    for d in node_cgroup_dirs(node):
        for root, dirs, _files in os.walk(d):
            for sub in dirs:
                if any(u in sub for u in uids) or any(i in sub for i in ctr_ids):
                    out.append(f"cgroup {Path(root) / sub}")
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if any(u in mp for u in uids) or any(i in mp for i in ctr_ids):
                out.append(f"mount {mp}")
    out += [f"process {pid} in the cgroup of pod {uid}" for pid, uid in pod_processes(uids)]
    return out


def pod_processes(uids: set[str]) -> list[tuple[int, str]]:
    """(pid, pod uid) of every process on the host whose cgroup is one of these pods'."""
    out = []
    marks = {f"/pod{u}": u for u in uids}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cgroup") as f:
                text = f.read()
        except OSError:
            continue
        for mark, uid in marks.items():
            if mark in text:
                out.append((int(entry), uid))
                break
    return out


def orphans(node: state.NodeRecord, live_uids: set[str]) -> list[str]:
    """Anything on the node that belongs to no pod in `live_uids`."""
    known = {c.get("pod_uid", "") for c in runtime_containers(node)}
    pods_dir = Path(node.data_dir) / "runtime" / "pods"
    if pods_dir.is_dir():
        known |= {p.name for p in pods_dir.iterdir()}
    known |= set(ipam_keys(node).values())
    stale = {u for u in known if u and u not in live_uids}
    out = residue(node, stale) if stale else []
    hashes = {uid_hash(u)[:12] for u in live_uids}
    for ns in os.listdir("/var/run/netns") if os.path.isdir("/var/run/netns") else []:
        if ns.startswith(node.netns + "-") and ns[len(node.netns) + 1:] not in hashes:
            out.append(f"netns {ns} of no live pod")
    veths = {"veth" + uid_hash(u)[:11] for u in live_uids}
    out += [f"link {name} of no live pod" for name in node_links(node)
            if name.startswith("veth") and name not in veths]
    return sorted(set(out))


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
