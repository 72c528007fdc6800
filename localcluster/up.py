"""`corral cluster up`: etcd, the control plane, a registry and N node agents
on this machine, each node in its own network namespace.

Secure like a real cluster: the control plane serves mutual TLS (its default)
with a bootstrap token made here (<cluster dir>/join-token, 0600); each agent
joins with that token and the CA hash the control plane writes to
<controlplane data>/pki/ca.hash, and from then on uses its node certificate.
This tool, `corral` (the context `cluster up` writes) and the chaos verbs use
the admin credentials of <controlplane data>/admin.conf.
"""

from __future__ import annotations

import fcntl
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from corral import config
from corral import credentials as cli_credentials
from corral.credentials import Credentials
from localcluster import members, netns, procs, registry, state
from proto import api_pb2, api_pb2_grpc

API_PORT = 6445                 # corral's gRPC API
KUBE_PORT = 6443                # the Kubernetes API (HTTPS)
REGISTRY_PORT = 5000
AGENT_PORT = 10250
METRICS_PORT_BASE = 10300       # cluster i: control plane metrics on 127.0.0.1:10300+i
ETCD_PORT_BASE = 22000
LOCK_PATH = Path("/run/lock/corral-cluster-up.lock")


def node_names(cluster: str, n: int) -> list[str]:
    return [f"node-{i}" for i in range(1, n + 1)]


def plan(name: str, nodes: int, profile: str,
         taken: set[int] | None = None, control_planes: int = 1) -> state.ClusterRecord:
    state.validate_name(name)
    members.check_count(control_planes)
    if not 1 <= nodes <= 50:
        raise ValueError(f"--nodes must be between 1 and 50, not {nodes}")
    if profile not in ("default", "demo"):
        raise ValueError(f'--profile must be "default" or "demo", not "{profile}"')
    idx = state.free_index(taken)
    d = state.clusters_dir() / name
    rec = state.ClusterRecord(
        name=name, index=idx, bridge=f"crl-{name}", gateway=f"10.213.{idx}.1",
        api_port=API_PORT, kube_port=KUBE_PORT, registry_port=REGISTRY_PORT, profile=profile,
        dir=str(d),
    )
    for k, node in enumerate(node_names(name, nodes), start=1):
        rec.nodes.append(state.NodeRecord(
            name=node, netns=f"corral-{name}-{node}", host_veth=f"crl{idx}n{k}",
            ip=f"10.213.{idx}.{10 + k}", data_dir=str(d / "nodes" / node),
            cgroup_root=f"corral/{name}/{node}", agent_port=AGENT_PORT,
        ))
    if control_planes > 1:     # highly available: members in namespaces of their own
        rec.controlplanes = [members.member_record(rec, k) for k in range(1, control_planes + 1)]
    return rec


def controlplane_dir(rec: state.ClusterRecord) -> Path:
    """The control plane's data dir (admin.conf, pki/): with several members, the first
    one's that has them (members come and go; they share the CA)."""
    for m in rec.controlplanes:
        if (Path(m.data_dir) / "admin.conf").exists():
            return Path(m.data_dir)
    if rec.controlplanes:
        return Path(rec.controlplanes[0].data_dir)
    return Path(rec.dir) / "controlplane"


def admin_config_path(rec: state.ClusterRecord) -> Path:
    """The control plane's admin.conf: a CLI config with the admin certificate."""
    return controlplane_dir(rec) / "admin.conf"


def admin_credentials(rec: state.ClusterRecord) -> Credentials | None:
    """The admin's TLS credentials (None before the control plane wrote them)."""
    path = admin_config_path(rec)
    if not path.exists():
        return None
    return config.load(path).context().credentials()


def join_token(rec: state.ClusterRecord) -> str:
    """The cluster's bootstrap token, made on first use (kept 0600 in the cluster dir)."""
    path = Path(rec.dir) / "join-token"
    if path.exists():
        return path.read_text().strip()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    token = "".join(secrets.choice(alphabet) for _ in range(6)) + "." + \
        "".join(secrets.choice(alphabet) for _ in range(16))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token


def ca_hash(rec: state.ClusterRecord) -> str:
    """sha256:... of the cluster CA, as the control plane wrote it ("" before)."""
    path = controlplane_dir(rec) / "pki" / "ca.hash"
    return path.read_text().strip() if path.exists() else ""


def etcd_ports(rec: state.ClusterRecord) -> tuple[int, int]:
    """(client, peer) ports of the cluster's embedded etcd on 127.0.0.1."""
    return ETCD_PORT_BASE + 2 * rec.index, ETCD_PORT_BASE + 2 * rec.index + 1


def controlplane_argv(rec: state.ClusterRecord) -> list[str]:
    return [
        sys.executable, "-m", "controlplane",
        "--listen", rec.server,
        "--kube-listen", f"{rec.gateway}:{rec.kube_port}",
        "--embedded-etcd",
        # ports of this cluster's own: two local clusters (or a cluster and a test's
        # etcd) must never share an etcd; below the kernel's ephemeral port range
        "--etcd-port", str(etcd_ports(rec)[0]),
        "--etcd-peer-port", str(etcd_ports(rec)[1]),
        # metrics carry no credentials: loopback only
        "--metrics-listen", f"127.0.0.1:{METRICS_PORT_BASE + rec.index}",
        "--data-dir", str(controlplane_dir(rec)),
        "--profile", rec.profile,
        "--bootstrap-token", join_token(rec),
    ]


def agent_argv(rec: state.ClusterRecord, node: state.NodeRecord) -> list[str]:
    return [
        sys.executable, "-m", "agent",
        "--server", rec.server,
        "--token", join_token(rec),
        "--ca-cert-hash", ca_hash(rec),
        "--node-name", node.name,
        "--node-ip", node.ip,
        "--listen", f"{node.ip}:{node.agent_port}",
        "--data-dir", node.data_dir,
        "--cgroup-root", node.cgroup_root,
        "--netns-prefix", f"{node.netns}-",
        "--profile", rec.profile,
        "--insecure-registry", rec.registry,
        "--registry-mirror", f"docker.io=http://{rec.registry}",
        # names outside the cluster are answered NXDOMAIN: nothing leaves the machine
        "--dns-upstream", "none",
    ]


def start_agent(rec: state.ClusterRecord, node: state.NodeRecord) -> None:
    node.agent_pid = procs.start(
        agent_argv(rec, node), Path(rec.dir) / "logs" / f"agent-{node.name}.log",
        netns=node.netns,
    )


def ready_nodes(server: str, credentials: Credentials | None = None,
                channel: grpc.Channel | None = None) -> set[str]:
    """The Ready nodes; over `channel` if given (polling reuses one: no TLS handshake
    per poll), else a channel of its own."""
    try:
        if channel is not None:
            resp = api_pb2_grpc.ApiStub(channel).List(
                api_pb2.ListRequest(resource="nodes"), timeout=2)
        else:
            with cli_credentials.secure_channel(server, credentials) as ch:
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
       timeout: float = 60.0, control_planes: int = 1) -> state.ClusterRecord:
    if state.load(name) is not None:
        raise ValueError(f'cluster "{name}" already exists (corral cluster down --name {name})')
    for tool in ("nsenter", "ip"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found: run scripts/install.sh")
    t0 = time.monotonic()
    # One `up` at a time on this host picks an index and claims its subnet (the
    # bridge address), so clusters recorded in different clusters dirs never collide.
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rec = plan(name, nodes, profile, taken=netns.indices_in_use(),
                   control_planes=control_planes)
        Path(rec.dir).mkdir(parents=True, exist_ok=True)
        rec.save()   # from here on, `cluster down` can undo whatever follows
        netns.ensure_bridge(rec.bridge, rec.gateway)
    for node in rec.nodes:
        netns.create_node_ns(node.netns, node.host_veth, rec.bridge, node.ip)
    log(f" ✓ network: bridge {rec.bridge} {rec.gateway}/24, {len(rec.nodes)} node namespaces")

    saving = threading.Lock()

    def save() -> None:
        with saving:
            rec.save()

    if rec.controlplanes:
        members.start_all(rec, join_token(rec), timeout, save)
        log(f" ✓ {len(rec.controlplanes)} control-plane members, each in its own namespace "
            "with its own etcd member")
    else:
        rec.controlplane_pid = procs.start(controlplane_argv(rec),
                                           Path(rec.dir) / "logs" / "controlplane.log")
    save()
    # the registry and the demo images do not wait for the control plane: one
    # process builds the images while the registry starts, the CA is made and
    # the agents join, and pushes them once the registry answers
    seeding = registry.Seeding(rec, save) if registry.available() else None
    try:
        _start_nodes(rec, timeout, save)
    except BaseException:
        if seeding is not None:
            seeding.abort(timeout)
        raise
    log(f" ✓ control plane at {rec.server}, Kubernetes API at {rec.kube_server}")
    if seeding is not None:
        seeding.finish(timeout)
        log(f" ✓ registry at {rec.registry}, seeded with {registry.DEMO_IMAGE} and demo:v2")
    log(f" ✓ {len(rec.nodes)} nodes Ready in {time.monotonic() - t0:.1f} s")
    return rec


def _start_nodes(rec: state.ClusterRecord, timeout: float, save: Callable[[], None]) -> None:
    """Wait for the control plane's CA, start the agents, wait until all nodes are Ready."""
    def running() -> None:
        if rec.controlplanes:
            members.alive_check(rec)
        elif not procs.alive(rec.controlplane_pid):
            raise RuntimeError(
                f"the control plane exited; see {rec.dir}/logs/controlplane.log")

    def secured() -> bool:   # the CA hash and admin.conf the agents and we need
        running()
        return bool(ca_hash(rec)) and admin_config_path(rec).exists()

    if not procs.wait_for(secured, timeout, interval=0.05):
        raise RuntimeError(f"the control plane wrote no CA within {timeout:.0f} s; see "
                           f"{rec.dir}/logs/controlplane.log")
    creds = admin_credentials(rec)

    for node in rec.nodes:
        start_agent(rec, node)
    save()

    want = {n.name for n in rec.nodes}

    def all_ready() -> bool:
        running()
        return want <= ready_nodes(rec.server, creds, channel)

    # one channel for all the polls; it may be made before the API server listens, so
    # it must retry connecting every 0.1-0.5 s, not gRPC's default 1 s growing to 120 s
    fast_reconnect = [("grpc.initial_reconnect_backoff_ms", 100),
                      ("grpc.min_reconnect_backoff_ms", 100),
                      ("grpc.max_reconnect_backoff_ms", 500)]
    with cli_credentials.secure_channel(rec.server, creds, fast_reconnect) as channel:
        if not procs.wait_for(all_ready, timeout, interval=0.1):
            raise RuntimeError(
                f"nodes not Ready after {timeout:.0f} s; see the logs in {rec.dir}/logs")
    names = {m.name for m in rec.controlplanes}
    if names and not procs.wait_for(lambda: members.healthy(rec.server, creds, names),
                                    timeout, interval=0.2):
        raise RuntimeError(f"control-plane members not all healthy after {timeout:.0f} s; "
                           f"see the logs in {rec.dir}/logs")
