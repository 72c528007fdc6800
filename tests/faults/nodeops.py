"""Helpers of the node fault tests (test_node_faults.py): pods pinned to a node,
watching an invariant over a window, cleaning up, what is left of a pod on its
nodes, a container's cgroup, the host's idle time, an agent killed."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcluster import procs
from proto import api_pb2_grpc

from .conftest import Cluster, delete_and_wait, list_pods, node_of, wait_for
from .nodeview import residue, runtime_containers, uid_hash


def pinned(node: str) -> dict[str, Any]:
    return {"nodeSelector": {"kubernetes.io/hostname": node}, "tolerations": STAY}


# An agent restart takes a few seconds, longer than the demo profile's node grace
# (3 s) + eviction (2 s): pods that must outlive the agent's restart tolerate the
# unreachable/not-ready taints, so the test is about the agent, not about eviction.
STAY = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]


def observe(seconds: float, check: Callable[[], None], interval: float = 0.5) -> None:
    """Check an invariant over a window of time (monitoring, not synchronisation)."""
    end = time.monotonic() + seconds
    while True:
        check()
        if time.monotonic() >= end:
            return
        time.sleep(interval)


def cleanup(c: Cluster, *names: str, kind: str = "deployment") -> None:
    for name in names:
        delete_and_wait(c, kind, name, f"app={name}" if kind == "deployment" else "")


def delete_pods(c: Cluster, stub: api_pb2_grpc.ApiStub, *names: str) -> None:
    for name in names:
        c.corral("delete", "pod", name, "--wait=false", check=False)
    wait_for(lambda: not {p.metadata.name for p in list_pods(stub)} & set(names), 90,
             f"pods {names} gone")


def uid_of(stub: api_pb2_grpc.ApiStub, name: str, running: bool = False) -> str:
    for p in list_pods(stub):
        if p.metadata.name == name and (not running or p.status.phase == "Running"):
            return str(p.metadata.uid)
    return ""


def gone(stub: api_pb2_grpc.ApiStub, name: str) -> bool:
    return name not in {p.metadata.name for p in list_pods(stub)}


def residue_on(c: Cluster, nodes: list[str], uids: set[str]) -> list[str]:
    out: list[str] = []
    for name in nodes:
        out += residue(node_of(c, name), uids)
    return out


def stage_reached(n: Any, uid: str, stage: str) -> bool:
    if stage == "bound":
        return True
    if stage == "netns":
        return Path(f"/var/run/netns/{n.netns}-{uid_hash(uid)[:12]}").exists()
    if stage == "sandbox":
        return (Path(n.data_dir) / "runtime" / "pods" / uid).exists()
    if stage == "container":
        return any(ct.get("pod_uid") == uid for ct in runtime_containers(n))
    raise AssertionError(stage)


def container_cgroup(c: Cluster, node: str, uid: str, controller: str) -> Path:
    """The container's cgroup dir for `controller` (v1) or its only dir (v2)."""
    n = node_of(c, node)
    root = Path("/sys/fs/cgroup")
    base = root if (root / "cgroup.controllers").exists() else root / controller
    pod_dir = base / n.cgroup_root / f"pod{uid}"
    subs = [d for d in pod_dir.iterdir() if d.is_dir()] if pod_dir.is_dir() else []
    if not subs:
        raise AssertionError(f"no {controller} cgroup for pod {uid} on {node}")
    return subs[0]


def try_or_none(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (AssertionError, OSError, ValueError):
        return None


def host_idle() -> float:
    """CPU seconds the whole host spent idle so far (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    return (int(fields[3]) + int(fields[4])) / os.sysconf("SC_CLK_TCK")


def kill_agent(c: Cluster, node: str) -> int:
    n = node_of(c, node)
    os.kill(n.agent_pid, signal.SIGKILL)
    wait_for(lambda: not procs.alive(n.agent_pid), 15, f"the agent of {node} gone")
    return n.agent_pid
