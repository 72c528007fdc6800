"""A node of a local cluster seen from the host, the way its agent sees it: the
runtime's state dir, the node's cgroup subtree, the mount table, the node's
network namespace and its IPAM dir. What a fault test checks for leftovers."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from localcluster import procs, state

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
