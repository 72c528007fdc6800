"""The control-plane members of a highly available local cluster
(`corral cluster up --control-planes 3`), and adding or removing one later
(`corral cluster add-controlplane`, `corral cluster remove-controlplane cp-3`).

Member k lives in network namespace corral-<cluster>-cp-<k> at 10.213.<i>.<1 + k> on the
cluster bridge, with its own data dir (its etcd member inside) and its own
`corral-controlplane` process on the standard ports (6445, 6443, 6444, etcd 2379/2380;
metrics on 127.0.0.1:10251 inside its namespace). cp-1 starts the cluster
(--cluster-init); the others join it with a join-controlplane token
(<cluster dir>/controlplane-token, 0600) and the CA hash, as on real machines.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

from corral import credentials as cli_credentials
from corral.credentials import Credentials
from localcluster import netns, observemembers, procs, state
from proto import api_pb2_grpc

API_PORT, KUBE_PORT, BOOTSTRAP_PORT = 6445, 6443, 6444
ETCD_PORT, ETCD_PEER_PORT = 2379, 2380
MAX_MEMBERS = 7          # 10.213.<i>.2 - .8: below the nodes' .11 and up
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def check_count(n: int) -> None:
    if n not in (1, 3, 5, 7):
        raise ValueError(f"--control-planes must be 1, 3, 5 or 7, not {n}: etcd needs a "
                         "majority, and an even count survives no more failures than one "
                         "member fewer")


def member_record(rec: state.ClusterRecord, k: int) -> state.ControlPlaneRecord:
    if not 1 <= k <= MAX_MEMBERS:
        raise ValueError(f"a local cluster has at most {MAX_MEMBERS} control-plane members")
    return state.ControlPlaneRecord(
        name=f"cp-{k}", netns=f"corral-{rec.name}-cp-{k}", host_veth=f"crl{rec.index}c{k}",
        ip=f"10.213.{rec.index}.{1 + k}",
        data_dir=str(Path(rec.dir) / "controlplanes" / f"cp-{k}"))


def next_member(rec: state.ClusterRecord) -> state.ControlPlaneRecord:
    used = {int(m.name.removeprefix("cp-")) for m in rec.controlplanes}
    free = [k for k in range(1, MAX_MEMBERS + 1) if k not in used]
    if not free:
        raise ValueError(f"a local cluster has at most {MAX_MEMBERS} control-plane members")
    return member_record(rec, free[0])


def member_token(rec: state.ClusterRecord) -> str:
    """The join-controlplane token of the cluster (made on first use, 0600)."""
    path = Path(rec.dir) / "controlplane-token"
    if path.exists():
        return path.read_text().strip()
    token = "".join(secrets.choice(TOKEN_CHARS) for _ in range(6)) + "." + \
        "".join(secrets.choice(TOKEN_CHARS) for _ in range(16))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token


def ca_hash(rec: state.ClusterRecord) -> str:
    """The cluster CA's hash, as a member wrote it ("" before any did)."""
    for m in rec.controlplanes:
        path = Path(m.data_dir) / "pki" / "ca.hash"
        if path.exists():
            return path.read_text().strip()
    return ""


def argv(rec: state.ClusterRecord, m: state.ControlPlaneRecord, node_token: str,
         first: bool) -> list[str]:
    cmd = [sys.executable, "-m", "controlplane",
           "--listen", f"{m.ip}:{API_PORT}", "--kube-listen", f"{m.ip}:{KUBE_PORT}",
           "--bootstrap-listen", f"{m.ip}:{BOOTSTRAP_PORT}", "--advertise-address", m.ip,
           "--member-name", m.name, "--etcd-port", str(ETCD_PORT),
           "--etcd-peer-port", str(ETCD_PEER_PORT),
           "--metrics-listen", "127.0.0.1:10251",      # inside the member's namespace
           "--data-dir", m.data_dir, "--profile", rec.profile,
           "--bootstrap-token", node_token]
    if first:
        return [*cmd, "--cluster-init", "--controlplane-token", member_token(rec)]
    others = ",".join(f"{o.ip}:{BOOTSTRAP_PORT}" for o in rec.controlplanes if o is not m)
    return [*cmd, "--join", others, "--token", member_token(rec),
            "--ca-cert-hash", ca_hash(rec)]


def start(rec: state.ClusterRecord, m: state.ControlPlaneRecord, node_token: str,
          first: bool = False) -> None:
    """Start (or restart: its data dir decides) one member's control plane."""
    if not (netns.NETNS_DIR / m.netns).exists():   # a restart (chaos) needs no pyroute2
        netns.create_node_ns(m.netns, m.host_veth, rec.bridge, m.ip)
    m.pid = procs.start(argv(rec, m, node_token, first),
                        Path(rec.dir) / "logs" / f"controlplane-{m.name}.log", netns=m.netns)


def start_all(rec: state.ClusterRecord, node_token: str, timeout: float,
              save: Callable[[], None]) -> None:
    """cp-1 first; once it wrote the CA, every other member joins it."""
    first, rest = rec.controlplanes[0], rec.controlplanes[1:]
    start(rec, first, node_token, first=True)
    save()

    def secured() -> bool:
        if not procs.alive(first.pid):
            raise RuntimeError(f"control-plane member {first.name} exited; see "
                               f"{rec.dir}/logs/controlplane-{first.name}.log")
        return bool(ca_hash(rec)) and (Path(first.data_dir) / "admin.conf").exists()

    if not procs.wait_for(secured, timeout, interval=0.05):
        raise RuntimeError(f"{first.name} wrote no CA within {timeout:.0f} s")
    for m in rest:
        start(rec, m, node_token)
    save()


def alive_check(rec: state.ClusterRecord) -> None:
    for m in rec.controlplanes:
        if not procs.alive(m.pid):
            raise RuntimeError(f"control-plane member {m.name} exited; see "
                               f"{rec.dir}/logs/controlplane-{m.name}.log")


def stop(m: state.ControlPlaneRecord, timeout: float = 15.0) -> None:
    procs.stop(m.pid, timeout=timeout)


def remove_network(m: state.ControlPlaneRecord) -> None:
    netns.delete_ns(m.netns)
    netns.delete_link(m.host_veth)


def wait_exit(m: state.ControlPlaneRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while procs.alive(m.pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)      # polling a condition with a deadline
    return True



def healthy(server: str, credentials: Credentials | None, names: set[str]) -> bool:
    """Whether those members are healthy voting members (asked through the API)."""
    with cli_credentials.secure_channel(server, credentials) as ch:
        lst = observemembers.snapshot(api_pb2_grpc.ApiStub(ch))
    if lst is None:
        return False
    return names <= {m.name for m in lst.items if m.healthy and not m.learner}
