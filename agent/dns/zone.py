"""The cluster's DNS names, from Services and EndpointSlices (pure), after the
Kubernetes DNS specification (kubernetes/dns docs/specification.md):

    <svc>.<ns>.svc.<zone>            A     the cluster IP; headless: each ready endpoint
    <host>.<svc>.<ns>.svc.<zone>     A     an endpoint with a hostname (a pod's
                                           `hostname` + `subdomain` = a headless Service)
    _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV  each named port (headless: per endpoint)
    <svc>.<ns>.svc.<zone>            CNAME the externalName of an ExternalName Service
    <a-b-c-d>.<ns>.pod.<zone>        A     a.b.c.d (any pod IP, like CoreDNS' "pods insecure")
    <d>.<c>.<b>.<a>.in-addr.arpa     PTR   cluster IPs and named endpoints

    zone = build_zone(services, slices, "cluster.local")
    zone.lookup("web.default.svc.cluster.local.")   # -> Records | None (None: no such name)

Names are lowercase and absolute (trailing dot). A name that exists with no
record of the asked type is NODATA, one that does not exist NXDOMAIN.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from proto import api_pb2

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass
class Records:
    a: list[str] = field(default_factory=list)
    srv: list[tuple[int, int, int, str]] = field(default_factory=list)  # prio, weight, port, target
    cname: str = ""
    ptr: str = ""


@dataclass
class Zone:
    domain: str                                  # "cluster.local." (absolute)
    names: dict[str, Records] = field(default_factory=dict)
    _parents: set[str] | None = field(default=None, repr=False, compare=False)

    def lookup(self, name: str) -> Records | None:
        name = name.lower()
        found = self.names.get(name)
        if found is not None:
            return found
        pods = f".pod.{self.domain}"
        if name.endswith(pods):
            label = name[:-len(pods)].split(".")[0]
            try:
                ip = ipaddress.IPv4Address(label.replace("-", "."))
            except ValueError:
                return None
            return Records(a=[str(ip)])
        return None

    def has_subdomain(self, name: str) -> bool:
        """Some name ends with `name` (an empty non-terminal: NODATA, not NXDOMAIN)."""
        if self._parents is None:     # built once: a zone is not changed after build_zone
            parents: set[str] = set()
            for n in self.names:
                dot = n.find(".")
                while dot != -1 and dot + 1 < len(n):
                    parents.add(n[dot + 1:])
                    dot = n.find(".", dot + 1)
            self._parents = parents
        return name.lower() in self._parents

    def covers(self, name: str) -> bool:
        """Whether `name` is ours to answer (the cluster zone, or the reverse zone)."""
        n = name.lower()
        return n == self.domain or n.endswith("." + self.domain)

    def add(self, name: str) -> Records:
        self._parents = None
        return self.names.setdefault(name.lower(), Records())


def reverse_zones(cidr: str) -> list[str]:
    """The in-addr.arpa suffixes covering `cidr` at octet boundaries (for NXDOMAIN
    answers to PTR queries of addresses that are ours)."""
    net = ipaddress.ip_network(cidr, strict=False)
    octets = max(net.prefixlen // 8, 1) if net.prefixlen % 8 == 0 else net.prefixlen // 8 + 1
    octets = min(octets, 3)
    out = []
    for sub in net.subnets(new_prefix=max(octets * 8, net.prefixlen)):
        parts = str(sub.network_address).split(".")[:octets]
        out.append(".".join(reversed(parts)) + ".in-addr.arpa.")
    return out


def reverse_name(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer + "."


def _ready_endpoints(slices: list[api_pb2.Object]) -> list[tuple[str, str, dict[str, int]]]:
    """(ip, hostname, {port name: number}) of each ready endpoint of a Service."""
    out: dict[str, tuple[str, str, dict[str, int]]] = {}
    for o in slices:
        es = o.endpoint_slice
        if es.address_type != "IPv4":
            continue
        ports = {f"{p.name}/{p.protocol or 'TCP'}": p.port for p in es.ports if p.port}
        for e in es.endpoints:
            if e.addresses and (not e.conditions.HasField("ready") or e.conditions.ready):
                ip = e.addresses[0]
                host = e.hostname if e.HasField("hostname") else ""
                prev = out.get(ip)
                out[ip] = (ip, host or (prev[1] if prev else ""), {**(prev[2] if prev
                                                                      else {}), **ports})
    return [out[k] for k in sorted(out)]


def _endpoint_label(ip: str, hostname: str) -> str:
    return hostname or ip.replace(".", "-")


def build_zone(services: Iterable[api_pb2.Object], slices: Iterable[api_pb2.Object],
               domain: str = "cluster.local") -> Zone:
    zone = Zone(domain.lower().strip(".") + ".")
    by_service: dict[tuple[str, str], list[api_pb2.Object]] = {}
    for o in slices:
        m = o.endpoint_slice.metadata
        name = m.labels.get(SERVICE_NAME_LABEL, "")
        if name:
            by_service.setdefault((m.namespace, name), []).append(o)
    for o in services:
        svc = o.service
        s = svc.spec
        base = f"{svc.metadata.name}.{svc.metadata.namespace}.svc.{zone.domain}"
        if s.type == "ExternalName":
            zone.add(base).cname = s.external_name.lower().rstrip(".") + "."
            continue
        headless = s.cluster_ip == "None"
        if not headless:
            if not s.cluster_ip:
                continue
            zone.add(base).a.append(s.cluster_ip)
            zone.add(reverse_name(s.cluster_ip)).ptr = base
            for p in s.ports:
                if p.name:
                    srv = f"_{p.name}._{(p.protocol or 'TCP').lower()}.{base}"
                    zone.add(srv).srv.append((0, 100, p.port, base))
            continue
        eps = _ready_endpoints(by_service.get((svc.metadata.namespace,
                                               svc.metadata.name), []))
        if not eps:
            continue
        zone.add(base).a.extend(ip for ip, _, _ in eps)
        for ip, host, ports in eps:
            target = f"{_endpoint_label(ip, host)}.{base}"
            zone.add(target).a.append(ip)
            if host:
                zone.add(reverse_name(ip)).ptr = target
            for key, number in ports.items():
                name, proto = key.split("/")
                if name:
                    srv = f"_{name}._{proto.lower()}.{base}"
                    zone.add(srv).srv.append((0, 100, number, target))
    return zone
