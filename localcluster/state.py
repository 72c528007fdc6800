"""Where a local cluster keeps what it made, so `cluster down` can undo it all.

Everything lives under /var/lib/corral/clusters/<name>/ (override with
$CORRAL_CLUSTERS_DIR): cluster.json (this record), the control plane's data
dir (etcd inside), one data dir per node, the registry's storage and the logs.

A highly available cluster (`cluster up --control-planes 3`) has one record per
control-plane member instead: its own network namespace and address on the
bridge, its data dir (its etcd member inside) and its process.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common.files import write_json_atomic

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def clusters_dir() -> Path:
    return Path(os.environ.get("CORRAL_CLUSTERS_DIR", "/var/lib/corral/clusters"))


def validate_name(name: str) -> None:
    if not name or len(name) > 10 or not set(name) <= NAME_CHARS or name[0] == "-" \
            or name[-1] == "-":
        raise ValueError(
            f'invalid cluster name "{name}": use 1-10 lowercase letters, digits or "-", '
            "starting and ending with a letter or digit"
        )


@dataclass
class NodeRecord:
    name: str
    netns: str            # the node's network namespace
    host_veth: str        # its veth end on the cluster bridge (host side)
    ip: str
    data_dir: str
    cgroup_root: str      # relative cgroup path of the node's subtree
    agent_pid: int = 0
    agent_port: int = 10250


@dataclass
class ControlPlaneRecord:
    name: str             # cp-<k>: the member's name in etcd and `corral controlplane ls`
    netns: str            # corral-<cluster>-cp-<k>
    host_veth: str        # crl<index>c<k>, on the cluster bridge
    ip: str               # 10.213.<index>.<1 + k>
    data_dir: str
    pid: int = 0


@dataclass
class ClusterRecord:
    name: str
    index: int            # picks the cluster's subnet: 10.213.<index>.0/24
    bridge: str
    gateway: str          # the bridge's address: control plane and registry listen here
    api_port: int
    registry_port: int
    profile: str
    dir: str
    nodes: list[NodeRecord] = field(default_factory=list)
    controlplane_pid: int = 0
    registry_pid: int = 0
    kube_port: int = 6443         # the Kubernetes API (HTTPS); api_port is corral's gRPC API
    controlplanes: list[ControlPlaneRecord] = field(default_factory=list)  # HA members

    @property
    def server(self) -> str:
        """corral's API: the control plane, or every member ("a:6445,b:6445,c:6445",
        which the clients balance over: common/apiendpoints.py)."""
        if self.controlplanes:
            return ",".join(f"{cp.ip}:{self.api_port}" for cp in self.controlplanes)
        return f"{self.gateway}:{self.api_port}"

    @property
    def kube_server(self) -> str:
        if self.controlplanes:
            return ",".join(f"https://{cp.ip}:{self.kube_port}" for cp in self.controlplanes)
        return f"https://{self.gateway}:{self.kube_port}"

    @property
    def registry(self) -> str:
        return f"{self.gateway}:{self.registry_port}"

    def path(self) -> Path:
        return Path(self.dir) / "cluster.json"

    def save(self) -> None:
        """Atomically: `cluster down` after a crash finds the old record or the new.
        0644: `corral cluster ls` reads it without root; it holds no secret."""
        p = self.path()
        p.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(p, asdict(self), mode=0o644, indent=2)


def load(name: str) -> ClusterRecord | None:
    p = clusters_dir() / name / "cluster.json"
    if not p.exists():
        return None
    raw = json.loads(p.read_text())
    nodes = [NodeRecord(**n) for n in raw.pop("nodes", [])]
    members = [ControlPlaneRecord(**m) for m in raw.pop("controlplanes", [])]
    return ClusterRecord(**raw, nodes=nodes, controlplanes=members)


def all_clusters() -> list[ClusterRecord]:
    out = []
    d = clusters_dir()
    if d.is_dir():
        for child in sorted(d.iterdir()):
            rec = load(child.name)
            if rec is not None:
                out.append(rec)
    return out


def free_index(taken_on_host: set[int] | None = None) -> int:
    """The lowest index no cluster uses: neither one recorded in this clusters
    dir nor one whose subnet or links exist on the host (clusters recorded in
    another $CORRAL_CLUSTERS_DIR, e.g. a concurrent test run)."""
    used = {c.index for c in all_clusters()} | (taken_on_host or set())
    for i in range(1, 250):
        if i not in used:
            return i
    raise RuntimeError("no free cluster index: remove a cluster with `corral cluster down`")
