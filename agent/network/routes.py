"""host-gw routes: ``<other node's podCIDR> via <its InternalIP>`` in this netns.

Like flannel's host-gw backend: every node is on one L2 segment with the
others, so a plain route per remote pod CIDR is all cross-node pod traffic
needs. The routes we make carry routing protocol number ``RTPROT_CORRAL``
(0x43, shown by ``ip route`` as ``proto 67``); :func:`sync` only ever lists,
replaces or deletes routes with that mark, so routes made by anyone else —
even for the same destination — are never touched (such a clash is reported
as a conflict instead).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pyroute2.netlink.exceptions import NetlinkError

from agent.network.errors import InvalidNetworkConfig, RouteError
from agent.network.rawlinks import NodeRtnl

RTPROT_CORRAL = 0x43
MAIN_TABLE = 254


@dataclass
class SyncResult:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def parse_nodes(
    nodes: list[tuple[str, str]], own_cidr: ipaddress.IPv4Network | None
) -> dict[ipaddress.IPv4Network, ipaddress.IPv4Address]:
    """Validate ``[(podCIDR, nodeIP)]``; drop our own CIDR. Raises InvalidNetworkConfig."""
    out: dict[ipaddress.IPv4Network, ipaddress.IPv4Address] = {}
    for i, (cidr, node_ip) in enumerate(nodes):
        try:
            net = ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as e:
            raise InvalidNetworkConfig(f"nodes[{i}]: podCIDR {cidr!r} is invalid: {e}") from None
        try:
            gw = ipaddress.IPv4Address(node_ip)
        except ValueError as e:
            raise InvalidNetworkConfig(f"nodes[{i}]: node IP {node_ip!r} is invalid: {e}") from None
        if own_cidr is not None and net == own_cidr:
            continue
        if own_cidr is not None and net.overlaps(own_cidr):
            raise InvalidNetworkConfig(
                f"nodes[{i}]: podCIDR {net} overlaps this node's pod CIDR {own_cidr}"
            )
        if net in out and out[net] != gw:
            raise InvalidNetworkConfig(
                f"nodes[{i}]: podCIDR {net} claimed by both {out[net]} and {gw}"
            )
        out[net] = gw
    return out


def owned_routes(nl: NodeRtnl) -> dict[ipaddress.IPv4Network, str]:
    """Our routes in the main table: destination -> gateway."""
    return {r.dst: r.gateway for r in nl.routes(MAIN_TABLE) if r.proto == RTPROT_CORRAL}


def _foreign_routes(nl: NodeRtnl) -> set[ipaddress.IPv4Network]:
    return {r.dst for r in nl.routes(MAIN_TABLE) if r.proto != RTPROT_CORRAL}


def sync(
    nl: NodeRtnl,
    nodes: list[tuple[str, str]],
    own_cidr: ipaddress.IPv4Network | None = None,
) -> SyncResult:
    """Make our routes equal ``nodes`` (minus our own CIDR): add, replace, remove.

    Every route that can be made is made; then RouteError names each one the
    kernel refused (e.g. a node IP not on a directly connected network:
    host-gw needs L2).
    """
    want = parse_nodes(nodes, own_cidr)
    have = owned_routes(nl)
    foreign = _foreign_routes(nl)
    res = SyncResult()
    failed: list[str] = []
    for net, gw in sorted(want.items()):
        if have.get(net) == str(gw):
            continue
        if net not in have and net in foreign:
            res.conflicts.append(f"{net}: a route not made by corral exists; left alone")
            continue
        try:
            nl.route_replace(net, gateway=str(gw), proto=RTPROT_CORRAL, table=MAIN_TABLE)
        except NetlinkError as e:
            # keep going: one unreachable node must not cut the others off
            failed.append(f"cannot add route {net} via {gw}: {e.args[-1]}")
            continue
        (res.replaced if net in have else res.added).append(f"{net} via {gw}")
    for net, old_gw in sorted(have.items()):
        if net in want:
            continue
        try:
            nl.route_del(net, gateway=old_gw, proto=RTPROT_CORRAL, table=MAIN_TABLE)
        except NetlinkError as e:
            if e.code != 3:  # ESRCH: already gone
                failed.append(f"cannot remove route {net} via {old_gw}: {e.args[-1]}")
                continue
        res.removed.append(f"{net} via {old_gw}")
    if failed:
        raise RouteError("; ".join(failed) + " (host-gw needs every node IP on-link)")
    return res
