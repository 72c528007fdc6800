"""The nftables ruleset the service proxy wants, as data (pure).

    want = desired(ports, NodeNet(pod_cidr=..., cluster_cidr=..., service_cidr=...,
                                  dns_ip=...))
    want.chains   {chain name: (rule, ...)}        regular chains and their rules
    want.sets     {affinity set name: declaration}
    want.maps     {map name: {key: verdict}}       the dispatch maps' elements
    want.ips      {cluster IP, ...}                 the cluster-ips set

The layout follows kube-proxy's nftables mode (KEP-3866), in table `ip
corral-proxy`: the `services` chain dispatches `daddr . proto . dport` through
the `service-ips` map (and node ports through `service-nodeports` when the
destination is a local address) to a chain per Service port, which picks an
endpoint chain at random (`numgen random`), first honouring ClientIP affinity
(a dynamic set per endpoint); the endpoint chain DNATs. A Service port without
endpoints is in `no-endpoint-*` maps instead, whose verdict rejects the
connection in the filter hooks. Packets are marked for masquerade when their
reply must come back through this node: a pod reaching itself (hairpin), a pod
reaching an endpoint on its own node's bridge (so no br_netfilter is needed),
an endpoint outside the cluster network (the API servers), traffic to a cluster
IP from outside the pod network, and every node-port connection.
The static part (base chains, maps, hooks) is BASE_* below.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field

from agent.proxy.model import Endpoint, ServicePort

TABLE = "corral-proxy"
FAMILY = "ip"
MASQ_MARK = "0x4000"

# base chains: name -> declaration (hook and priority)
BASE_CHAINS: dict[str, str] = {
    "nat-prerouting": "type nat hook prerouting priority dstnat; policy accept;",
    "nat-output": "type nat hook output priority -100; policy accept;",
    "nat-postrouting": "type nat hook postrouting priority srcnat; policy accept;",
    "filter-input": "type filter hook input priority -110; policy accept;",
    "filter-forward": "type filter hook forward priority -110; policy accept;",
    "filter-output": "type filter hook output priority -110; policy accept;",
    "filter-output-post-dnat": "type filter hook output priority -90; policy accept;",
}
MAPS: dict[str, str] = {
    "service-ips": "type ipv4_addr . inet_proto . inet_service : verdict;",
    "service-nodeports": "type inet_proto . inet_service : verdict;",
    "no-endpoint-services": "type ipv4_addr . inet_proto . inet_service : verdict;",
    "no-endpoint-nodeports": "type inet_proto . inet_service : verdict;",
}
IPS_SET = "cluster-ips"
LOCAL = "fib daddr type local ip daddr != 127.0.0.0/8"


@dataclass(frozen=True)
class NodeNet:
    pod_cidr: str = ""          # this node's: endpoints there are on our bridge
    cluster_cidr: str = ""      # every pod's
    service_cidr: str = ""      # cluster IPs; unallocated ones are dropped
    dns_ip: str = ""            # the node-local DNS address inside the service CIDR


@dataclass
class Ruleset:
    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)
    maps: dict[str, dict[str, str]] = field(default_factory=lambda: {m: {} for m in MAPS})
    ips: set[str] = field(default_factory=set)


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest())[:8].decode()


def service_chain(sp: ServicePort) -> str:
    return f"service-{_hash(sp.key)}-{sp.key}"


def external_chain(sp: ServicePort) -> str:
    return f"external-{_hash(sp.key)}-{sp.key}"


def endpoint_chain(sp: ServicePort, ep: Endpoint) -> str:
    tail = f"{sp.key}__{ep.ip}/{ep.port}"
    return f"endpoint-{_hash(tail)}-{tail}"


def affinity_set(sp: ServicePort, ep: Endpoint) -> str:
    tail = f"{sp.key}__{ep.ip}/{ep.port}"
    return f"affinity-{_hash(tail)}-{tail}"


def static_chains(net: NodeNet) -> dict[str, tuple[str, ...]]:
    unallocated: tuple[str, ...] = ()
    if net.service_cidr:
        keep = f"ip daddr != {net.dns_ip} " if net.dns_ip else ""
        unallocated = (f"{keep}ip daddr {net.service_cidr} drop",)
    return {
        "nat-prerouting": ("jump services",),
        "nat-output": ("jump services",),
        "nat-postrouting": ("jump masquerading",),
        "filter-input": ("ct state new jump nodeport-endpoints-check",
                         "ct state new jump service-endpoints-check"),
        "filter-forward": ("ct state new jump service-endpoints-check",
                           "ct state new jump cluster-ips-check"),
        "filter-output": ("ct state new jump service-endpoints-check",),
        "filter-output-post-dnat": ("ct state new jump cluster-ips-check",),
        "services": ("ip daddr . meta l4proto . th dport vmap @service-ips",
                     f"{LOCAL} meta l4proto . th dport vmap @service-nodeports"),
        "mark-for-masquerade": (f"meta mark set meta mark | {MASQ_MARK}",),
        "masquerading": (f"meta mark & {MASQ_MARK} == 0 return",
                         f"meta mark set meta mark ^ {MASQ_MARK}",
                         "masquerade fully-random"),
        "service-endpoints-check": (
            "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",),
        "nodeport-endpoints-check": (
            f"{LOCAL} meta l4proto . th dport vmap @no-endpoint-nodeports",),
        "cluster-ips-check": (f"ip daddr @{IPS_SET} goto reject-chain", *unallocated),
        # a TCP reset, not only ICMP: the kernel rate-limits ICMP errors per host, and a
        # client must hear "refused" at once, every time
        "reject-chain": ("meta l4proto tcp reject with tcp reset", "reject"),
    }


@functools.lru_cache(maxsize=32)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr, strict=False)


def _in(ip: str, cidr: str) -> bool:
    if not cidr:
        return False
    try:
        return ipaddress.ip_address(ip) in _network(cidr)
    except ValueError:
        return False


def _endpoint_rules(sp: ServicePort, ep: Endpoint, net: NodeNet) -> tuple[str, ...]:
    rules = [f"ip saddr {ep.ip} jump mark-for-masquerade"]          # hairpin
    if net.pod_cidr and _in(ep.ip, net.pod_cidr):                   # on our own bridge
        rules.append(f"ip saddr {net.pod_cidr} jump mark-for-masquerade")
    if net.cluster_cidr and not _in(ep.ip, net.cluster_cidr):       # not a pod: API servers
        rules.append("jump mark-for-masquerade")
    if sp.affinity_seconds:
        rules.append(f"update @{affinity_set(sp, ep)} {{ ip saddr }}")
    rules.append(f"meta l4proto {sp.protocol} dnat to {ep.ip}:{ep.port}")
    return tuple(rules)


def _service_rules(sp: ServicePort, net: NodeNet) -> tuple[str, ...]:
    rules = []
    if net.cluster_cidr:
        rules.append(f"ip daddr {sp.cluster_ip} ip saddr != {net.cluster_cidr} "
                     "jump mark-for-masquerade")
    if sp.affinity_seconds:
        rules += [f"ip saddr @{affinity_set(sp, ep)} goto {endpoint_chain(sp, ep)}"
                  for ep in sp.endpoints]
    targets = ", ".join(f"{i} : goto {endpoint_chain(sp, ep)}"
                        for i, ep in enumerate(sp.endpoints))
    rules.append(f"numgen random mod {len(sp.endpoints)} vmap {{ {targets} }}")
    return tuple(rules)


@dataclass(frozen=True)
class Fragment:
    """One Service port's share of the ruleset."""

    chains: tuple[tuple[str, tuple[str, ...]], ...]
    sets: tuple[tuple[str, str], ...]
    entries: tuple[tuple[str, str, str], ...]     # (map, key, verdict)


# what the last render made of each Service port: the next reuses what did not change
RenderCache = dict[tuple[ServicePort, NodeNet], Fragment]


def fragment(sp: ServicePort, net: NodeNet) -> Fragment:
    key = f"{sp.cluster_ip} . {sp.protocol} . {sp.port}"
    nkey = f"{sp.protocol} . {sp.node_port}"
    if not sp.endpoints:
        entries = [("no-endpoint-services", key, "goto reject-chain")]
        if sp.node_port:
            entries.append(("no-endpoint-nodeports", nkey, "goto reject-chain"))
        return Fragment((), (), tuple(entries))
    svc = service_chain(sp)
    chains = [(svc, _service_rules(sp, net))]
    entries = [("service-ips", key, f"goto {svc}")]
    if sp.node_port:
        ext = external_chain(sp)
        chains.append((ext, ("jump mark-for-masquerade", f"goto {svc}")))
        entries.append(("service-nodeports", nkey, f"goto {ext}"))
    sets = []
    for ep in sp.endpoints:
        chains.append((endpoint_chain(sp, ep), _endpoint_rules(sp, ep, net)))
        if sp.affinity_seconds:
            sets.append((affinity_set(sp, ep), f"type ipv4_addr; flags dynamic,timeout; "
                                               f"timeout {sp.affinity_seconds}s;"))
    return Fragment(tuple(chains), tuple(sets), tuple(entries))


def desired(ports: list[ServicePort], net: NodeNet, cache: RenderCache | None = None) -> Ruleset:
    """The whole ruleset; with `cache` (kept by the caller between calls) only the
    Service ports that changed since the last call are rendered again."""
    rs = Ruleset(chains=static_chains(net))
    fresh: RenderCache = {}
    for sp in ports:
        k = (sp, net)
        frag = cache.get(k) if cache is not None else None
        fresh[k] = frag = frag if frag is not None else fragment(sp, net)
        rs.ips.add(sp.cluster_ip)
        rs.chains.update(frag.chains)
        rs.sets.update(frag.sets)
        for name, key, verdict in frag.entries:
            rs.maps[name][key] = verdict
    if cache is not None:
        cache.clear()
        cache.update(fresh)
    return rs
