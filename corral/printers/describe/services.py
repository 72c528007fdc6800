"""`corral describe service|endpoints|endpointslice`, laid out like kubectl's."""

from __future__ import annotations

from collections.abc import Iterable

from corral.printers import table
from corral.printers.describe.sections import (
    Related,
    Writer,
    common_meta,
    events_section,
    map_section,
)
from proto import api_pb2, discovery_pb2, service_pb2

MAX_LISTED = 3


def _target(p: service_pb2.ServicePort) -> str:
    tp = p.target_port
    value = tp.str_val if tp.WhichOneof("value") == "str_val" else str(tp.int_val or p.port)
    return f"{value}/{p.protocol or 'TCP'}"


def slice_endpoints(slices: Iterable[discovery_pb2.EndpointSlice], port_name: str) -> str:
    """ip:port of every endpoint of the slices for the Service port named `port_name`."""
    listed: list[str] = []
    for es in slices:
        if not es.ports:
            listed += [a for e in es.endpoints for a in e.addresses]
            continue
        for p in es.ports:
            if p.name == port_name and p.HasField("port"):
                listed += [f"{a}:{p.port}" for e in es.endpoints for a in e.addresses]
    text = ",".join(listed[:MAX_LISTED])
    if len(listed) > MAX_LISTED:
        return f"{text} + {len(listed) - MAX_LISTED} more..."
    return text or "<none>"


def describe_service(obj: api_pb2.Object, rel: Related, now: float) -> str:
    s = obj.service
    spec = s.spec
    w = Writer()
    common_meta(w, s.metadata, True)
    map_section(w, 0, "Labels", s.metadata.labels)
    map_section(w, 0, "Annotations", s.metadata.annotations, ": ")
    w.kv(0, "Selector", ",".join(f"{k}={v}" for k, v in sorted(spec.selector.items()))
         or "<none>")
    w.kv(0, "Type", spec.type or "ClusterIP")
    if spec.HasField("ip_family_policy"):
        w.kv(0, "IP Family Policy", spec.ip_family_policy)
    if spec.ip_families:
        w.kv(0, "IP Families", ",".join(spec.ip_families))
    if spec.type != "ExternalName":
        w.kv(0, "IP", spec.cluster_ip or "<none>")
        if spec.cluster_ips:
            w.kv(0, "IPs", ",".join(spec.cluster_ips))
    else:
        w.kv(0, "External Name", spec.external_name)
    for p in spec.ports:
        name = p.name or "<unset>"
        w.kv(0, "Port", f"{name}  {p.port}/{p.protocol or 'TCP'}")
        w.kv(0, "TargetPort", _target(p))
        if p.node_port:
            w.kv(0, "NodePort", f"{name}  {p.node_port}/{p.protocol or 'TCP'}")
        if spec.type != "ExternalName":
            w.kv(0, "Endpoints", slice_endpoints(rel.endpoint_slices, p.name))
    w.kv(0, "Session Affinity", spec.session_affinity or "None")
    if spec.session_affinity == "ClientIP":
        timeout = spec.session_affinity_config.client_ip.timeout_seconds
        w.kv(0, "Session Affinity Timeout", f"{timeout}s")
    if spec.external_traffic_policy:
        w.kv(0, "External Traffic Policy", spec.external_traffic_policy)
    if spec.HasField("internal_traffic_policy"):
        w.kv(0, "Internal Traffic Policy", spec.internal_traffic_policy)
    if spec.publish_not_ready_addresses:
        w.kv(0, "Publish Not Ready Addresses", "true")
    events_section(w, rel.events, now)
    return w.render()


def describe_endpoints(obj: api_pb2.Object, rel: Related, now: float) -> str:
    e = obj.endpoints
    w = Writer()
    common_meta(w, e.metadata, True)
    map_section(w, 0, "Labels", e.metadata.labels)
    map_section(w, 0, "Annotations", e.metadata.annotations, ": ")
    w.line(0, "Subsets:")
    for ss in e.subsets:
        w.kv(1, "Addresses", ",".join(a.ip for a in ss.addresses) or "<none>")
        w.kv(1, "NotReadyAddresses", ",".join(a.ip for a in ss.not_ready_addresses)
             or "<none>")
        if ss.ports:
            w.line(1, "Ports:")
            rows = [[p.name or "<unset>", str(p.port), p.protocol or "TCP"] for p in ss.ports]
            w.block(2, table.render(["Name", "Port", "Protocol"],
                                    [["----", "----", "--------"], *rows]))
        w.line(0, "")
    events_section(w, rel.events, now)
    return w.render()


def describe_endpoint_slice(obj: api_pb2.Object, rel: Related, now: float) -> str:
    es = obj.endpoint_slice
    w = Writer()
    common_meta(w, es.metadata, True)
    map_section(w, 0, "Labels", es.metadata.labels)
    map_section(w, 0, "Annotations", es.metadata.annotations, ": ")
    w.kv(0, "AddressType", es.address_type)
    w.line(0, "Ports:")
    rows = [[p.name or "<unset>", str(p.port) if p.HasField("port") else "<unset>",
             p.protocol or "TCP"] for p in es.ports]
    w.block(1, table.render(["Name", "Port", "Protocol"], [["----", "----", "--------"], *rows]))
    w.line(0, "Endpoints:")
    for e in es.endpoints:
        c = e.conditions
        w.line(1, f"- Addresses:  {','.join(e.addresses)}")
        w.kv(2, "Conditions", "")
        w.kv(3, "Ready", str(c.ready).lower() if c.HasField("ready") else "<unset>")
        w.kv(3, "Serving", str(c.serving).lower() if c.HasField("serving") else "<unset>")
        w.kv(3, "Terminating", str(c.terminating).lower()
             if c.HasField("terminating") else "<unset>")
        w.kv(2, "Hostname", e.hostname if e.HasField("hostname") else "<unset>")
        if e.target_ref.name:
            w.kv(2, "TargetRef", f"{e.target_ref.kind}/{e.target_ref.name}")
        w.kv(2, "NodeName", e.node_name if e.HasField("node_name") else "<unset>")
        w.kv(2, "Zone", e.zone if e.HasField("zone") else "<unset>")
    events_section(w, rel.events, now)
    return w.render()
