"""The node's plumbing for Services, in the network namespace the agent runs in.

- A route for the service CIDR through the pod bridge (routing protocol
  RTPROT_SERVICES, so the host-gw route sync never touches it): a process on
  the node (or a hostNetwork pod) reaching a cluster IP needs some route for
  the packet to reach the nftables output hook, where the proxy DNATs it.
  Pods need none: their packets reach the node through the bridge.
- The cluster DNS address (10.96.0.10/32) on the loopback link, labelled
  `lo:corral-dns` (NodeLocal DNSCache puts it on a dummy link; lo needs no
  kernel module): pods send their queries there and this node's DNS server
  answers, without any proxying.

    ensure_route("10.96.0.0/12", "corral0")     remove_route("10.96.0.0/12")
    ensure_dns_address("10.96.0.10")             remove_dns_address()

All are idempotent; the ensure_* raise NetworkError when the kernel refuses.
"""

from __future__ import annotations

import contextlib
import ipaddress

from pyroute2.netlink.exceptions import NetlinkError

from agent.network.bridge import link_index
from agent.network.errors import LinkError, RouteError
from agent.network.rawlinks import NodeRtnl

RTPROT_SERVICES = 0x44
DNS_LABEL = "lo:corral-dns"
MAIN_TABLE = 254
RT_SCOPE_LINK = 253


def _route(nl: NodeRtnl, cidr: str, bridge: str) -> None:
    idx = link_index(nl, bridge)
    if idx is None:
        raise RouteError(f"bridge {bridge} does not exist yet (no pod CIDR)")
    net = ipaddress.ip_network(cidr)
    try:
        nl.route_replace(ipaddress.IPv4Network(net), oif=idx, proto=RTPROT_SERVICES,
                         table=MAIN_TABLE, scope=RT_SCOPE_LINK)
    except NetlinkError as e:
        raise RouteError(f"cannot route the service CIDR {cidr} via {bridge}: "
                         f"{e.args[-1]}") from e


def _dns_address(nl: NodeRtnl, dns_ip: str) -> None:
    try:
        idx = _lo(nl)
        if dns_ip not in {a.address for a in nl.addrs(idx)}:
            nl.addr_add_labelled(idx, dns_ip, 32, DNS_LABEL)
        nl.set_up(idx)
    except NetlinkError as e:
        raise LinkError(f"cannot put the cluster DNS address {dns_ip} on lo: "
                        f"{e.args[-1]}") from e


def _lo(nl: NodeRtnl) -> int:
    idx = link_index(nl, "lo")
    if idx is None:
        raise LinkError("this network namespace has no lo")
    return idx


def ensure_route(service_cidr: str, bridge: str) -> None:
    with NodeRtnl() as nl:
        _route(nl, service_cidr, bridge)


def ensure_dns_address(dns_ip: str) -> None:
    with NodeRtnl() as nl:
        _dns_address(nl, dns_ip)


def remove_route(service_cidr: str) -> None:
    net = ipaddress.IPv4Network(service_cidr)
    with NodeRtnl() as nl, contextlib.suppress(NetlinkError):
        nl.route_del(net, proto=RTPROT_SERVICES, table=MAIN_TABLE)


def remove_dns_address() -> None:
    with NodeRtnl() as nl:
        idx = _lo(nl)
        for a in nl.addrs(idx):
            if a.label == DNS_LABEL:
                with contextlib.suppress(NetlinkError):
                    nl.addr_del(idx, a.address, a.prefixlen)
