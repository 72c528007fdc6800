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

import ipaddress
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from agent.network.errors import LinkError, RouteError

RTPROT_SERVICES = 0x44
DNS_LABEL = "lo:corral-dns"
MAIN_TABLE = 254


def _route(ipr: Any, cidr: str, bridge: str) -> None:
    idx = ipr.link_lookup(ifname=bridge)
    if not idx:
        raise RouteError(f"bridge {bridge} does not exist yet (no pod CIDR)")
    net = ipaddress.ip_network(cidr)
    try:
        ipr.route("replace", dst=str(net.network_address), dst_len=net.prefixlen,
                  oif=idx[0], proto=RTPROT_SERVICES, table=MAIN_TABLE, scope=253)
    except NetlinkError as e:
        raise RouteError(f"cannot route the service CIDR {cidr} via {bridge}: "
                         f"{e.args[-1]}") from e


def _dns_address(ipr: Any, dns_ip: str) -> None:
    try:
        idx = ipr.link_lookup(ifname="lo")[0]
        have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=idx, family=2)}
        if dns_ip not in have:
            ipr.addr("add", index=idx, address=dns_ip, prefixlen=32, label=DNS_LABEL)
        ipr.link("set", index=idx, state="up")
    except NetlinkError as e:
        raise LinkError(f"cannot put the cluster DNS address {dns_ip} on lo: "
                        f"{e.args[-1]}") from e


def ensure_route(service_cidr: str, bridge: str) -> None:
    with IPRoute() as ipr:
        _route(ipr, service_cidr, bridge)


def ensure_dns_address(dns_ip: str) -> None:
    with IPRoute() as ipr:
        _dns_address(ipr, dns_ip)


def remove_route(service_cidr: str) -> None:
    net = ipaddress.ip_network(service_cidr)
    with IPRoute() as ipr:
        try:
            ipr.route("del", dst=str(net.network_address), dst_len=net.prefixlen,
                      proto=RTPROT_SERVICES, table=MAIN_TABLE)
        except NetlinkError:
            pass


def remove_dns_address() -> None:
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname="lo")[0]
        for a in ipr.get_addr(index=idx, family=2):
            if a.get_attr("IFA_LABEL") == DNS_LABEL:
                try:
                    ipr.addr("del", index=idx, address=a.get_attr("IFA_ADDRESS"),
                             prefixlen=a["prefixlen"])
                except NetlinkError:
                    pass
