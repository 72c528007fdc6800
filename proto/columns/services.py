"""The Service, Endpoints and EndpointSlice columns of `corral get`, computed like
kubectl's printers (pkg/printers/internalversion/printers.go)."""

from __future__ import annotations

from collections.abc import Iterable

from proto import api_pb2, discovery_pb2, service_pb2
from proto.columns.base import none_if_empty
from proto.columns.humanize import age

MAX_LISTED = 3


def service_ports(ports: Iterable[service_pb2.ServicePort]) -> str:
    pieces = []
    for p in ports:
        proto = p.protocol or "TCP"
        pieces.append(f"{p.port}:{p.node_port}/{proto}" if p.node_port else f"{p.port}/{proto}")
    return none_if_empty(",".join(pieces))


def _external_ip(s: service_pb2.ServiceSpec) -> str:
    if s.type == "ExternalName":
        return s.external_name
    return "<none>"


def _cluster_ip(s: service_pb2.ServiceSpec) -> str:
    return s.cluster_ip if s.cluster_ip else "<none>"


def svc_row(obj: api_pb2.Object, now: float) -> list[str]:
    s = obj.service
    return [s.metadata.name, s.spec.type or "ClusterIP", _cluster_ip(s.spec),
            _external_ip(s.spec), service_ports(s.spec.ports),
            age(s.metadata.creation_timestamp, now)]


def svc_wide(obj: api_pb2.Object, now: float) -> list[str]:
    sel = obj.service.spec.selector
    return [none_if_empty(",".join(f"{k}={v}" for k, v in sorted(sel.items())))]


def _more(items: list[str], count: int, empty: str) -> str:
    text = ",".join(items[:MAX_LISTED])
    if count > MAX_LISTED:
        return f"{text} + {count - MAX_LISTED} more..."
    return text or empty


def format_endpoints(ep: service_pb2.Endpoints) -> str:
    listed: list[str] = []
    for ss in ep.subsets:
        if not ss.ports:
            listed += [a.ip for a in ss.addresses]
            continue
        for port in ss.ports:
            listed += [f"{a.ip}:{port.port}" for a in ss.addresses]
    return _more(listed, len(listed), "<none>")


def ep_row(obj: api_pb2.Object, now: float) -> list[str]:
    e = obj.endpoints
    return [e.metadata.name, format_endpoints(e), age(e.metadata.creation_timestamp, now)]


def slice_ports(ports: Iterable[discovery_pb2.EndpointSlicePort]) -> str:
    listed = [str(p.port) if p.HasField("port") else (p.name if p.HasField("name") else "*")
              for p in ports]
    return _more(listed, len(listed), "<unset>")


def slice_endpoints(endpoints: Iterable[discovery_pb2.Endpoint]) -> str:
    listed = [a for e in endpoints for a in e.addresses]
    return _more(listed, len(listed), "<unset>")


def slice_row(obj: api_pb2.Object, now: float) -> list[str]:
    es = obj.endpoint_slice
    return [es.metadata.name, es.address_type, slice_ports(es.ports),
            slice_endpoints(es.endpoints), age(es.metadata.creation_timestamp, now)]
