"""Chaos verbs: break one thing on a local cluster, then narrate the repair.

Each verb acts, prints the cluster's events as a timeline, and reports the
time until observed state matched desired again ("deployment web: 3/3 ready
again after 2.4 s").
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from corral import credentials as cli_credentials
from localcluster import cleanup, netns, observe, procs, state, up
from proto import api_pb2, api_pb2_grpc


class ChaosError(Exception):
    """The fault could not be injected (unknown pod or node, nothing running)."""


def _node(rec: state.ClusterRecord, name: str) -> state.NodeRecord:
    for n in rec.nodes:
        if n.name == name:
            return n
    raise ChaosError(f'node "{name}" is not part of cluster "{rec.name}" '
                     f"(nodes: {', '.join(n.name for n in rec.nodes)})")


def container_pids(node: state.NodeRecord, pod_uid: str | None = None) -> set[int]:
    """Host PIDs of the running containers on a node, or of one pod's (from the
    runtime's state dir: containers/<id>/meta.json and state.json)."""
    out: set[int] = set()
    root = Path(node.data_dir) / "runtime" / "containers"
    if not root.is_dir():
        return out
    for d in root.iterdir():
        try:
            st = json.loads((d / "state.json").read_text())
            if pod_uid is not None and \
                    json.loads((d / "meta.json").read_text()).get("pod_uid") != pod_uid:
                continue
        except (OSError, ValueError):
            continue
        if st.get("pid") and not st.get("finished_at") and procs.alive(int(st["pid"])):
            out.add(int(st["pid"]))
    return out


def kill_container(rec: state.ClusterRecord, pod: str, namespace: str) -> str:
    with cli_credentials.secure_channel(rec.server, up.admin_credentials(rec)) as ch:
        obj = api_pb2_grpc.ApiStub(ch).Get(
            api_pb2.GetRequest(resource="pods", namespace=namespace, name=pod), timeout=5)
    p = obj.pod
    if not p.spec.node_name:
        raise ChaosError(f'pod "{namespace}/{pod}" is not scheduled to a node yet')
    pids = container_pids(_node(rec, p.spec.node_name), p.metadata.uid)
    if not pids:
        raise ChaosError(f'pod "{namespace}/{pod}" has no running container')
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return f"killed {len(pids)} container process(es) of pod {namespace}/{pod} " \
           f"on {p.spec.node_name} (SIGKILL to PID {', '.join(map(str, sorted(pids)))})"


def kill_agent(rec: state.ClusterRecord, node: str, restart_after: float | None,
               log: Callable[[str], None]) -> str:
    """SIGKILL the agent; restart it after `restart_after` s, as systemd would."""
    n = _node(rec, node)
    if not procs.alive(n.agent_pid):
        raise ChaosError(f"the agent of {node} is not running")
    before = container_pids(n)
    os.kill(n.agent_pid, signal.SIGKILL)
    procs.wait_for(lambda: not procs.alive(n.agent_pid), 5)
    log(f"  killed the agent of {node} (PID {n.agent_pid}); "
        f"{len(before)} container(s) on it")
    if restart_after is None:
        return f"the agent of {node} stays down (corral chaos restart-agent {node})"
    time.sleep(restart_after)     # the supervisor's restart delay, part of the fault
    up.start_agent(rec, n)
    rec.save()
    alive = before & container_pids(n)
    return (f"restarted the agent of {node} (PID {n.agent_pid}) after {restart_after:.0f} s; "
            f"{len(alive)}/{len(before)} containers kept running with the same PIDs")


def kill_node(rec: state.ClusterRecord, node: str) -> str:
    n = _node(rec, node)
    if procs.alive(n.agent_pid):
        os.kill(n.agent_pid, signal.SIGKILL)
    cleanup.kill_cgroup_tree(n.cgroup_root)
    return f"killed node {node}: its agent and every container on it"


def restart_agent(rec: state.ClusterRecord, node: str) -> str:
    n = _node(rec, node)
    if procs.alive(n.agent_pid):
        raise ChaosError(f"the agent of {node} is running (PID {n.agent_pid})")
    up.start_agent(rec, n)
    rec.save()
    return f"started the agent of {node} (PID {n.agent_pid})"


def partition(rec: state.ClusterRecord, node: str, heal: bool = False) -> str:
    n = _node(rec, node)
    netns.set_link_state(n.netns, up=heal)
    return f"{'restored' if heal else 'cut'} the link of {node}"


def etcd_pid(rec: state.ClusterRecord) -> int:
    """The embedded etcd: the control plane's child running the etcd binary."""
    pid = procs.child_running(rec.controlplane_pid, b"etcd")
    if not pid:
        raise ChaosError("no embedded etcd found under the control plane")
    return pid


def stop_etcd(rec: state.ClusterRecord, seconds: float, log: Callable[[str], None]) -> str:
    pid = etcd_pid(rec)
    os.kill(pid, signal.SIGSTOP)
    log(f"  etcd (PID {pid}) stopped for {seconds:.0f} s")
    try:
        time.sleep(seconds)   # the outage itself, not a synchronisation
    finally:
        os.kill(pid, signal.SIGCONT)
    return f"etcd resumed after {seconds:.0f} s"


def run(rec: state.ClusterRecord, action: Callable[[], str], log: Callable[[str], None],
        timeout: float = 120.0, diverge_within: float = 15.0,
        lost_nodes: frozenset[str] = frozenset()) -> float | None:
    """Inject a fault, narrate, and return seconds until converged (None: never)."""
    t0 = time.monotonic()
    creds = up.admin_credentials(rec)
    timeline = observe.Timeline(rec.server, t0, log, creds).start()
    try:
        log(f"  +  0.0 s  {action()}")
        took = observe.wait_converged(rec.server, t0, log, diverge_within=diverge_within,
                                      timeout=timeout, credentials=creds,
                                      lost_nodes=lost_nodes)
    finally:
        timeline.stop()
    if took is None:
        log(f"not converged after {timeout:.0f} s")
    return took
