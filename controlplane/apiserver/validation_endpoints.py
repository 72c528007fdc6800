"""Validation of EndpointSlices (discovery.k8s.io/v1) and Endpoints (v1), as
Kubernetes' ValidateEndpointSlice and ValidateEndpoints do it."""

from __future__ import annotations

import ipaddress

from controlplane.apiserver.validation_util import Errors, join
from controlplane.errors import FieldError
from proto import discovery_pb2, labels, service_pb2

ADDRESS_TYPES = ("IPv4",)
PROTOCOLS = ("TCP", "UDP")
MAX_ENDPOINTS = 1000
MAX_PORTS = 100


def _ipv4(path: str, value: str, errs: Errors) -> None:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        errs.invalid(path, value, "must be a valid IP address")
        return
    if addr.version != 4:
        errs.invalid(path, value, "must be an IPv4 address")
    elif addr.is_loopback or addr.is_link_local or addr.is_multicast or addr.is_unspecified:
        errs.invalid(path, value, "may not be a loopback, link-local, multicast or "
                                  "unspecified address")


def _too_many(path: str, count: int, limit: int) -> FieldError:
    return FieldError(path, f"Too many: {count}: must have at most {limit} items")


def _port(path: str, name: str, number: int, protocol: str, names: set[str],
          errs: Errors) -> None:
    if name:
        for msg in labels.dns1123_label_errors(name):
            errs.invalid(join(path, "name"), name, msg)
    if name in names:
        errs.duplicate(join(path, "name"), name)
    names.add(name)
    errs.port(join(path, "port"), number, allow_zero=True)
    errs.enum(join(path, "protocol"), protocol, PROTOCOLS, allow_empty=False)


def validate_endpoint_slice(es: discovery_pb2.EndpointSlice, errs: Errors) -> None:
    if es.address_type == "":
        errs.required("addressType")
    elif es.address_type not in ADDRESS_TYPES:
        errs.unsupported("addressType", es.address_type, ADDRESS_TYPES)
    if len(es.endpoints) > MAX_ENDPOINTS:
        errs.append(_too_many("endpoints", len(es.endpoints), MAX_ENDPOINTS))
    for i, ep in enumerate(es.endpoints):
        path = f"endpoints[{i}]"
        if len(ep.addresses) != 1:
            errs.invalid(join(path, "addresses"), list(ep.addresses),
                         "must contain exactly one address")
        for j, a in enumerate(ep.addresses):
            _ipv4(f"{path}.addresses[{j}]", a, errs)
        if ep.HasField("hostname"):
            errs.dns_label(join(path, "hostname"), ep.hostname)
        if ep.HasField("node_name"):
            errs.dns_subdomain(join(path, "nodeName"), ep.node_name)
    if len(es.ports) > MAX_PORTS:
        errs.append(_too_many("ports", len(es.ports), MAX_PORTS))
    names: set[str] = set()
    for i, p in enumerate(es.ports):
        _port(f"ports[{i}]", p.name, p.port, p.protocol, names, errs)


def validate_endpoints(ep: service_pb2.Endpoints, errs: Errors) -> None:
    for i, subset in enumerate(ep.subsets):
        path = f"subsets[{i}]"
        if not subset.addresses and not subset.not_ready_addresses:
            errs.required(path, "must specify `addresses` or `notReadyAddresses`")
        for field, items in (("addresses", subset.addresses),
                             ("notReadyAddresses", subset.not_ready_addresses)):
            for j, a in enumerate(items):
                ap = f"{path}.{field}[{j}]"
                _ipv4(join(ap, "ip"), a.ip, errs)
                if a.hostname:
                    errs.dns_label(join(ap, "hostname"), a.hostname)
        names: set[str] = set()
        for j, p in enumerate(subset.ports):
            pp = f"{path}.ports[{j}]"
            if len(subset.ports) > 1 and not p.name:
                errs.required(join(pp, "name"))
            _port(pp, p.name, p.port, p.protocol, names, errs)
            if p.port == 0:
                errs.required(join(pp, "port"))
