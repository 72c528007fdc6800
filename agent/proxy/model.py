"""What the service proxy serves, from Services and EndpointSlices (pure).

    ports = service_ports(services, slices)     # [ServicePort], sorted by key

One ServicePort per port of every Service that has a cluster IP (not headless,
not ExternalName), with the endpoints to use, like kube-proxy picks them:
the ready ones; if none is ready, the serving-and-terminating ones (so a
Service whose pods are all shutting down keeps answering while they drain);
else none (the proxy then rejects). A NodePort Service's node port is served
on the node's addresses too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from proto import api_pb2

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str            # "tcp" or "udp" (nftables' spelling)
    cluster_ip: str
    port: int
    node_port: int           # 0: none
    affinity_seconds: int    # 0: no session affinity
    endpoints: tuple[Endpoint, ...]

    @property
    def key(self) -> str:
        """ns/name/protocol/port-name, like kube-proxy's chain names."""
        return f"{self.namespace}/{self.name}/{self.protocol}/{self.port_name}"


def _endpoints_for(slices: list[api_pb2.Object], port_name: str,
                   protocol: str) -> tuple[Endpoint, ...]:
    ready: set[Endpoint] = set()
    fallback: set[Endpoint] = set()
    for o in slices:
        es = o.endpoint_slice
        if es.address_type != "IPv4":
            continue
        number = next((p.port for p in es.ports
                       if p.name == port_name and (p.protocol or "TCP") == protocol), 0)
        if not number:
            continue
        for e in es.endpoints:
            if not e.addresses:
                continue
            c = e.conditions
            ep = Endpoint(e.addresses[0], number)
            ready_now = c.ready if c.HasField("ready") else True
            if ready_now:
                ready.add(ep)
            elif c.serving and c.terminating:
                fallback.add(ep)
    return tuple(sorted(ready or fallback))


def service_ports(services: Iterable[api_pb2.Object],
                  slices: Iterable[api_pb2.Object]) -> list[ServicePort]:
    by_service: dict[tuple[str, str], list[api_pb2.Object]] = {}
    for o in slices:
        m = o.endpoint_slice.metadata
        name = m.labels.get(SERVICE_NAME_LABEL, "")
        if name:
            by_service.setdefault((m.namespace, name), []).append(o)
    out = []
    for o in services:
        svc = o.service
        s = svc.spec
        if s.type == "ExternalName" or not s.cluster_ip or s.cluster_ip == "None":
            continue
        mine = by_service.get((svc.metadata.namespace, svc.metadata.name), [])
        affinity = (s.session_affinity_config.client_ip.timeout_seconds or 10800) \
            if s.session_affinity == "ClientIP" else 0
        for p in s.ports:
            protocol = p.protocol or "TCP"
            if protocol not in ("TCP", "UDP"):
                continue
            out.append(ServicePort(
                namespace=svc.metadata.namespace, name=svc.metadata.name,
                port_name=p.name, protocol=protocol.lower(), cluster_ip=s.cluster_ip,
                port=p.port, node_port=p.node_port if s.type == "NodePort" else 0,
                affinity_seconds=affinity,
                endpoints=_endpoints_for(mine, p.name, protocol)))
    out.sort(key=lambda sp: sp.key)
    return out
