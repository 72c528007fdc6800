"""`corral cluster up`: etcd, the control plane, a registry and N node agents
on this machine, each node in its own network namespace.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from corral.cluster import netns, procs, registry, state
from proto import api_pb2, api_pb2_grpc

API_PORT = 6443
REGISTRY_PORT = 5000
AGENT_PORT = 10250


def node_names(cluster: str, n: int) -> list[str]:
    return [f"node-{i}" for i in range(1, n + 1)]


def plan(name: str, nodes: int, profile: str) -> state.ClusterRecord:
    state.validate_name(name)
    if not 1 <= nodes <= 50:
        raise ValueError(f"--nodes must be between 1 and 50, not {nodes}")
    if profile not in ("default", "demo"):
        raise ValueError(f'--profile must be "default" or "demo", not "{profile}"')
    idx = state.free_index()
    d = state.clusters_dir() / name
    rec = state.ClusterRecord(
        name=name, index=idx, bridge=f"crl-{name}", gateway=f"10.213.{idx}.1",
        api_port=API_PORT, registry_port=REGISTRY_PORT, profile=profile, dir=str(d),
    )
    for k, node in enumerate(node_names(name, nodes), start=1):
        rec.nodes.append(state.NodeRecord(
            name=node, netns=f"corral-{name}-{node}", host_veth=f"crl{idx}n{k}",
            ip=f"10.213.{idx}.{10 + k}", data_dir=str(d / "nodes" / node),
            cgroup_root=f"corral/{name}/{node}", agent_port=AGENT_PORT,
        ))
    return rec


def controlplane_argv(rec: state.ClusterRecord) -> list[str]:
    return [
        sys.executable, "-m", "controlplane",
        "--listen", rec.server,
        "--embedded-etcd",
        "--data-dir", str(Path(rec.dir) / "controlplane"),
        "--profile", rec.profile,
    ]


def agent_argv(rec: state.ClusterRecord, node: state.NodeRecord) -> list[str]:
    return [
        sys.executable, "-m", "agent",
        "--server", rec.server,
        "--node-name", node.name,
        "--node-ip", node.ip,
        "--listen", f"{node.ip}:{node.agent_port}",
        "--data-dir", node.data_dir,
        "--cgroup-root", node.cgroup_root,
        "--netns-prefix", f"{node.netns}-",
        "--profile", rec.profile,
        "--insecure-registry", rec.registry,
        "--registry-mirror", f"docker.io=http://{rec.registry}",
    ]


def start_agent(rec: state.ClusterRecord, node: state.NodeRecord) -> None:
    node.agent_pid = procs.start(
        agent_argv(rec, node), Path(rec.dir) / "logs" / f"agent-{node.name}.log",
        netns=node.netns,
    )


def ready_nodes(server: str) -> set[str]:
    try:
        with grpc.insecure_channel(server) as ch:
            resp = api_pb2_grpc.ApiStub(ch).List(
                api_pb2.ListRequest(resource="nodes"), timeout=2)
    except grpc.RpcError:
        return set()
    out = set()
    for item in resp.items:
        n = item.node
        if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions):
            out.add(n.metadata.name)
    return out


def up(name: str, nodes: int, profile: str, log: Callable[[str], None],
       timeout: float = 60.0) -> state.ClusterRecord:
    if state.load(name) is not None:
        raise ValueError(f'cluster "{name}" already exists (corral cluster down --name {name})')
    for tool in ("nsenter", "ip"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found: run scripts/install.sh")
    t0 = time.monotonic()
    rec = plan(name, nodes, profile)
    Path(rec.dir).mkdir(parents=True, exist_ok=True)
    rec.save()   # from here on, `cluster down` can undo whatever follows

    netns.ensure_bridge(rec.bridge, rec.gateway)
    for node in rec.nodes:
        netns.create_node_ns(node.netns, node.host_veth, rec.bridge, node.ip)
    log(f" ✓ network: bridge {rec.bridge} {rec.gateway}/24, {len(rec.nodes)} node namespaces")

    rec.controlplane_pid = procs.start(controlplane_argv(rec),
                                       Path(rec.dir) / "logs" / "controlplane.log")
    rec.save()

    rec.registry_pid = registry.start(rec)
    rec.save()
    if rec.registry_pid:
        registry.seed(rec)
        log(f" ✓ registry at {rec.registry}, seeded with {registry.DEMO_IMAGE}")
    for node in rec.nodes:
        start_agent(rec, node)
    rec.save()

    want = {n.name for n in rec.nodes}

    def all_ready() -> bool:
        if not procs.alive(rec.controlplane_pid):
            raise RuntimeError(
                f"the control plane exited; see {rec.dir}/logs/controlplane.log")
        return want <= ready_nodes(rec.server)

    if not procs.wait_for(all_ready, timeout, interval=0.1):
        raise RuntimeError(
            f"nodes not Ready after {timeout:.0f} s; see the logs in {rec.dir}/logs")
    log(f" ✓ control plane at {rec.server}")
    log(f" ✓ {len(want)} nodes Ready in {time.monotonic() - t0:.1f} s")
    return rec
