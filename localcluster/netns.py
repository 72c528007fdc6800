"""The local cluster's network: a bridge on the host, one namespace per node.

    host:    bridge crl-<name>  10.213.<i>.1/24   (control plane, registry)
    node k:  netns corral-<name>-<node>, eth0 10.213.<i>.<10+k>/24 via a veth
    member k of a highly available control plane:
             netns corral-<name>-cp-<k>, eth0 10.213.<i>.<1+k>/24 via veth crl<i>c<k>

Traffic stays on the machine: there is no default route out of a node and no
NAT; pod CIDRs are routed between node namespaces by the agents (host-gw).
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
from pathlib import Path

from pyroute2 import IPRoute, NetlinkError, NetNS, netns

NETNS_DIR = Path("/var/run/netns")


def ensure_bridge(name: str, address: str, prefix: int = 24) -> None:
    with IPRoute() as ipr:
        if not ipr.link_lookup(ifname=name):
            ipr.link("add", ifname=name, kind="bridge")
        idx = ipr.link_lookup(ifname=name)[0]
        have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=idx)}
        if address not in have:
            ipr.addr("add", index=idx, address=address, prefixlen=prefix)
        ipr.link("set", index=idx, state="up")


def indices_in_use() -> set[int]:
    """Cluster indices taken on this host, whatever clusters dir recorded them:
    an address in 10.213.<i>.0/24, a node link crl<i>n<k> or a member's crl<i>c<k>."""
    out: set[int] = set()
    with IPRoute() as ipr:
        for a in ipr.get_addr(family=2):
            m = re.fullmatch(r"10\.213\.(\d+)\.\d+", a.get_attr("IFA_ADDRESS") or "")
            if m:
                out.add(int(m.group(1)))
        for link in ipr.get_links():
            m = re.fullmatch(r"crl(\d+)[nc]\d+p?", link.get_attr("IFLA_IFNAME") or "")
            if m:
                out.add(int(m.group(1)))
    return out


def delete_link(name: str) -> None:
    """Remove the link if it exists. A veth whose peer's namespace was just
    deleted may vanish between the lookup and the delete (the kernel tears
    namespaces down from a work queue): that is the same end, not an error."""
    with IPRoute() as ipr:
        for idx in ipr.link_lookup(ifname=name):
            try:
                ipr.link("del", index=idx)
            except NetlinkError as e:
                if e.code != errno.ENODEV:
                    raise


def create_node_ns(ns_name: str, host_veth: str, bridge: str, address: str,
                   prefix: int = 24) -> None:
    """Make the node's namespace with eth0 on the cluster bridge (idempotent)."""
    if not (NETNS_DIR / ns_name).exists():
        netns.create(ns_name)
    peer = host_veth + "p"
    with IPRoute() as ipr:
        if not ipr.link_lookup(ifname=host_veth):
            ipr.link("add", ifname=host_veth, kind="veth", peer=peer)
            peer_idx = ipr.link_lookup(ifname=peer)[0]
            ipr.link("set", index=peer_idx, net_ns_fd=ns_name)
        idx = ipr.link_lookup(ifname=host_veth)[0]
        br = ipr.link_lookup(ifname=bridge)[0]
        master = ipr.get_links(idx)[0].get_attr("IFLA_MASTER")
        if master not in (None, br):
            raise RuntimeError(f"link {host_veth} already belongs to another bridge "
                               "(another cluster with the same index?)")
        ipr.link("set", index=idx, master=br, state="up")
    with NetNS(ns_name) as ns:
        lo = ns.link_lookup(ifname="lo")[0]
        ns.link("set", index=lo, state="up")
        found = ns.link_lookup(ifname=peer) or ns.link_lookup(ifname="eth0")
        if not found:
            raise RuntimeError(f"{host_veth}'s peer is not in namespace {ns_name}")
        eidx = found[0]
        ns.link("set", index=eidx, ifname="eth0")
        have = {a.get_attr("IFA_ADDRESS") for a in ns.get_addr(index=eidx)}
        if address not in have:
            ns.addr("add", index=eidx, address=address, prefixlen=prefix)
        ns.link("set", index=eidx, state="up")


def set_blackholes(ns_name: str, addresses: list[str], on: bool) -> None:
    """Drop everything from the namespace to `addresses` (or stop dropping): a partition
    of a control-plane member from its peers, its clients still reaching it. With `ip`
    (no fork of this process: the chaos verbs run gRPC threads meanwhile)."""
    for ip in addresses:
        r = subprocess.run(["ip", "-n", ns_name, "route", "add" if on else "del", "blackhole",
                            f"{ip}/32"], capture_output=True, text=True, check=False)
        if r.returncode != 0 and not any(x in r.stderr for x in ("File exists", "No such")):
            raise RuntimeError(f"ip -n {ns_name} route: {r.stderr.strip()}")


def set_link_state(ns_name: str, up: bool) -> None:
    """Cut or restore a node's link (chaos partition/heal)."""
    with NetNS(ns_name) as ns:
        found = ns.link_lookup(ifname="eth0")
        if found:
            ns.link("set", index=found[0], state="up" if up else "down")


def delete_ns(ns_name: str) -> None:
    if (NETNS_DIR / ns_name).exists():
        netns.remove(ns_name)


def namespaces_with_prefix(prefix: str) -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
