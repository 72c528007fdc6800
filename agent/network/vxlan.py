"""Optional VXLAN overlay backend (like flannel's ``vxlan``), for nodes not on one L2.

Each node has a VTEP device (``corral.1``: VNI 1, UDP 4789, no learning) whose
MAC is derived from the node IP (``0e:43:<4 bytes of the IP>``) and which holds
the network address of the node's pod CIDR as a /32 (``10.244.1.0``). So
nothing but ``(podCIDR, nodeIP)`` has to be exchanged between nodes: for every
other node this module programs

- a route ``<podCIDR> via <podCIDR network address> dev corral.1 onlink``
  (``proto 0x43``, like the host-gw routes),
- a permanent neighbour ``<podCIDR network address> lladdr <mac(nodeIP)>``,
- an FDB entry ``<mac(nodeIP)> dst <nodeIP>`` on the VTEP,

and removes those of nodes that disappeared. Pod MTU is the uplink's minus 50.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from agent.network.bridge import check_ifname, link_index, link_kind
from agent.network.errors import LinkError, RouteError
from agent.network.routes import MAIN_TABLE, RTPROT_CORRAL, SyncResult, parse_nodes

VXLAN_OVERHEAD = 50
DEFAULT_PORT = 4789
MAC_PREFIX = "0e:43"
RTNH_F_ONLINK = 4
NUD_PERMANENT = 0x80


def vtep_mac(node_ip: str | ipaddress.IPv4Address) -> str:
    """The VTEP MAC of the node with this IP (locally administered, unicast)."""
    b = ipaddress.IPv4Address(node_ip).packed
    return MAC_PREFIX + "".join(f":{x:02x}" for x in b)


def ip_of_mac(mac: str) -> ipaddress.IPv4Address | None:
    if not mac.lower().startswith(MAC_PREFIX + ":"):
        return None
    parts = mac.split(":")[2:]
    if len(parts) != 4:
        return None
    return ipaddress.IPv4Address(bytes(int(p, 16) for p in parts))


def ensure_vtep(
    ipr: Any,
    name: str,
    node_ip: str,
    pod_cidr: ipaddress.IPv4Network,
    mtu: int,
    vni: int = 1,
    port: int = DEFAULT_PORT,
) -> int:
    """Create/repair the VTEP device; return its index. Idempotent."""
    check_ifname(name)
    if not node_ip:
        raise LinkError("the VXLAN backend needs the node IP")
    mac = vtep_mac(node_ip)
    try:
        idx = link_index(ipr, name)
        if idx is not None and link_kind(ipr, idx) != "vxlan":
            raise LinkError(f"{name} exists and is not a vxlan device; refusing to touch it")
        if idx is not None:
            info = ipr.get_links(idx)[0]
            data = info.get(("linkinfo", "data"))
            same = (
                data is not None
                and data.get("vxlan_id") == vni
                and data.get("vxlan_local") == node_ip
                and data.get("vxlan_port") == port
            )
            if not same:
                ipr.link("del", index=idx)
                idx = None
        if idx is None:
            ipr.link(
                "add",
                ifname=name,
                kind="vxlan",
                vxlan_id=vni,
                vxlan_local=node_ip,
                vxlan_port=port,
                vxlan_learning=0,
            )
            idx = link_index(ipr, name)
            if idx is None:
                raise LinkError(f"vxlan device {name} vanished right after creation")
        ipr.link("set", index=idx, address=mac, mtu=mtu)
        want = (str(pod_cidr.network_address), 32)
        have = {(a.get("address"), a.get("prefixlen")) for a in ipr.get_addr(family=2, index=idx)}
        for addr, plen in have - {want}:
            ipr.addr("del", index=idx, address=addr, prefixlen=plen)
        if want not in have:
            ipr.addr("add", index=idx, address=want[0], prefixlen=want[1])
        ipr.link("set", index=idx, state="up")
        return int(idx)
    except NetlinkError as e:
        raise LinkError(f"cannot set up vxlan device {name} (VNI {vni}): {e}") from e


def sync(
    ipr: Any,
    name: str,
    nodes: list[tuple[str, str]],
    own_cidr: ipaddress.IPv4Network,
) -> SyncResult:
    """Routes, neighbours and FDB entries for every other node; drop stale ones."""
    idx = link_index(ipr, name)
    if idx is None:
        raise RouteError(f"vxlan device {name} does not exist; ensure_node() first")
    want = parse_nodes(nodes, own_cidr)
    have = _owned_routes(ipr)
    res = SyncResult()
    failed: list[str] = []
    for net, node_ip in sorted(want.items()):
        gw = str(net.network_address)
        mac = vtep_mac(node_ip)
        try:
            _ensure_fdb(ipr, idx, mac, str(node_ip))
            ipr.neigh("replace", dst=gw, lladdr=mac, ifindex=idx,
                      state=NUD_PERMANENT)
            if have.get(net) != gw or not _route_on(ipr, net, idx):
                ipr.route("replace", dst=str(net), gateway=gw, oif=idx, flags=RTNH_F_ONLINK,
                          proto=RTPROT_CORRAL, table=MAIN_TABLE)
                (res.replaced if net in have else res.added).append(f"{net} via {node_ip}")
        except NetlinkError as e:
            failed.append(f"cannot program {net} via {node_ip} over {name}: {e.args[-1]}")
    for net, gw in sorted(have.items()):
        if net in want:
            continue
        try:
            ipr.route("del", dst=str(net), proto=RTPROT_CORRAL, table=MAIN_TABLE)
        except NetlinkError as e:
            if e.code != 3:
                failed.append(f"cannot remove route {net}: {e.args[-1]}")
                continue
        res.removed.append(f"{net} via {gw}")
    _drop_stale(ipr, idx, want)
    if failed:
        raise RouteError("; ".join(failed))
    return res


def _owned_routes(ipr: Any) -> dict[ipaddress.IPv4Network, str]:
    """Our routes in the main table (through pyroute2, as the rest of this module)."""
    out: dict[ipaddress.IPv4Network, str] = {}
    for r in ipr.get_routes(family=socket.AF_INET, table=MAIN_TABLE):
        if r.get("proto") == RTPROT_CORRAL:
            dst = ipaddress.IPv4Network(f"{r.get('dst') or '0.0.0.0'}/{r.get('dst_len')}")
            out[dst] = str(r.get("gateway") or "")
    return out


def _route_on(ipr: Any, net: ipaddress.IPv4Network, idx: int) -> bool:
    for r in ipr.get_routes(family=socket.AF_INET, table=MAIN_TABLE):
        if (r.get("dst"), r.get("dst_len")) == (str(net.network_address), net.prefixlen):
            return bool(r.get("oif") == idx and r.get("proto") == RTPROT_CORRAL)
    return False


def _ensure_fdb(ipr: Any, idx: int, mac: str, node_ip: str) -> None:
    for entry in ipr.fdb("dump", ifindex=idx, lladdr=mac):
        if entry.get("NDA_DST") == node_ip:
            return
    try:
        ipr.fdb("append", ifindex=idx, lladdr=mac, dst=node_ip)
    except NetlinkError as e:
        if e.code != 17:  # EEXIST
            raise


def _drop_stale(
    ipr: Any, idx: int, want: dict[ipaddress.IPv4Network, ipaddress.IPv4Address]
) -> None:
    gws = {str(n.network_address) for n in want}
    macs = {vtep_mac(ip) for ip in want.values()}
    for n in ipr.get_neighbours(family=socket.AF_INET, ifindex=idx):
        dst = n.get("NDA_DST")
        if dst not in gws:
            try:
                ipr.neigh("del", dst=dst, ifindex=idx)
            except NetlinkError:
                pass
    for entry in ipr.fdb("dump", ifindex=idx):
        mac = str(entry.get("NDA_LLADDR") or "")
        dst = entry.get("NDA_DST")
        if ip_of_mac(mac) is not None and mac not in macs and dst:
            try:
                ipr.fdb("del", ifindex=idx, lladdr=mac, dst=dst)
            except NetlinkError:
                pass
