"""A tiny cluster made of network namespaces, all created (and removed) by the test.

    <tok>-c   the "cluster" netns: bridge ``cbr`` joining the nodes' uplinks
    <tok>-n1  node 1: ``eth0`` 10.123.0.11/24, pod CIDR 10.124.1.0/24
    <tok>-n2  node 2: ``eth0`` 10.123.0.12/24, pod CIDR 10.124.2.0/24

Nothing touches the host's own network namespace: every link is created
inside a namespace of ours, and every namespace whose name starts with the
run's unique token is removed at the end, pass or fail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
CLUSTER_NET = "10.123.0"


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    if shutil.which("ip") is None:
        pytest.skip("needs the ip command")


@dataclass
class Node:
    name: str
    netns: str
    ip: str
    pod_cidr: str
    data_dir: str
    prefix: str
    bridge: str = "corral0"

    def spec(self, **extra: Any) -> dict[str, Any]:
        net = {
            "data_dir": self.data_dir,
            "pod_cidr": self.pod_cidr,
            "bridge_name": self.bridge,
            "node_ip": self.ip,
            "netns_prefix": self.prefix,
        }
        net.update(extra)
        return net

    #: how the agent process enters the node: "ip netns exec" (own mount
    #: namespace, as the local cluster does) or "nsenter" (network namespace only)
    enter: str = "ip netns exec"

    def run(self, *ops: list[Any], expect_exit: int = 0, **net: Any) -> dict[str, Any]:
        """Run PodNetwork ops in a fresh process inside this node."""
        arg = json.dumps({"net": self.spec(**net), "ops": [list(o) for o in ops]})
        if self.enter == "nsenter":
            prefix = ["nsenter", f"--net=/var/run/netns/{self.netns}"]
        else:
            prefix = ["ip", "netns", "exec", self.netns]
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "tests.integration.network.nodeproc", arg],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == expect_exit, proc.stderr
        if expect_exit != 0:
            return {}
        out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return out

    def ok(self, *ops: list[Any], **net: Any) -> list[Any]:
        out = self.run(*ops, **net)
        assert "error" not in out, out
        result: list[Any] = out["results"]
        return result


@dataclass
class Cluster:
    token: str
    cluster_ns: str
    nodes: list[Node] = field(default_factory=list)

    def node_routes(self) -> list[tuple[str, str]]:
        return [(n.pod_cidr, n.ip) for n in self.nodes]


def ns_exec(netns: str, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, *cmd], capture_output=True, text=True,
                          timeout=timeout)


def links(netns: str) -> list[dict[str, Any]]:
    from pyroute2 import IPRoute

    with IPRoute(netns=netns, flags=0) as ipr:
        return [
            {
                "ifname": link.get("ifname"),
                "kind": link.get(("linkinfo", "kind")),
                "master": link.get("master"),
                "mtu": link.get("mtu"),
                "state": link.get("state"),
            }
            for link in ipr.get_links()
        ]


def corral_routes(netns: str) -> dict[str, str]:
    from pyroute2 import IPRoute

    from agent.network.routes import RTPROT_CORRAL

    with IPRoute(netns=netns, flags=0) as ipr:
        return {
            f"{r.get('dst')}/{r.get('dst_len')}": str(r.get("gateway"))
            for r in ipr.get_routes(family=2, table=254)
            if r.get("proto") == RTPROT_CORRAL
        }


def our_netns(token: str) -> list[str]:
    from pyroute2 import netns

    return sorted(n for n in netns.listnetns() if n.startswith(token))


def _remove_all(token: str) -> None:
    from pyroute2 import netns

    for name in our_netns(token):
        try:
            netns.remove(name)
        except OSError:
            pass


def make_node(token: str, idx: int, pod_cidr: str, tmp: Path, cluster_ns: str | None) -> Node:
    """A node netns; with ``cluster_ns``, wired to the cluster bridge with 10.123.0.1x."""
    from pyroute2 import IPRoute, netns

    name = f"n{idx}"
    ns = f"{token}-{name}"
    netns.create(ns)
    ip = f"{CLUSTER_NET}.{10 + idx}"
    with IPRoute(netns=ns, flags=0) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
    if cluster_ns is not None:
        with IPRoute(netns=cluster_ns, flags=0) as cipr:
            cipr.link("add", ifname=name, kind="veth",
                      peer={"ifname": "eth0", "net_ns_fd": f"/var/run/netns/{ns}"})
            port = cipr.link_lookup(ifname=name)[0]
            br = cipr.link_lookup(ifname="cbr")[0]
            cipr.link("set", index=port, master=br, state="up")
        with IPRoute(netns=ns, flags=0) as ipr:
            eth0 = ipr.link_lookup(ifname="eth0")[0]
            ipr.addr("add", index=eth0, address=ip, prefixlen=24)
            ipr.link("set", index=eth0, state="up")
    data = tmp / name
    data.mkdir()
    return Node(name=name, netns=ns, ip=ip, pod_cidr=pod_cidr, data_dir=str(data),
                prefix=f"{ns}-p")


@pytest.fixture
def token() -> Iterator[str]:
    _need_root()
    tok = f"crt{secrets.token_hex(3)}"
    try:
        yield tok
    finally:
        _remove_all(tok)
        assert our_netns(tok) == []


@pytest.fixture
def cluster(token: str, tmp_path: Path) -> Iterator[Cluster]:
    from pyroute2 import IPRoute, netns

    cns = f"{token}-c"
    netns.create(cns)
    with IPRoute(netns=cns, flags=0) as ipr:
        ipr.link("add", ifname="cbr", kind="bridge")
        ipr.link("set", index=ipr.link_lookup(ifname="cbr")[0], state="up")
    c = Cluster(token=token, cluster_ns=cns)
    for i in (1, 2):
        c.nodes.append(make_node(token, i, f"10.124.{i}.0/24", tmp_path, cns))
    yield c
