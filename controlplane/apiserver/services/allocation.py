"""Which cluster IP and node ports a Service gets, keeps or gives back (no I/O).

    errs = assign(new_spec, old_spec, net, taken_ips, taken_ports)   # fills new_spec
    held(spec) -> {("serviceips", "10.96.0.12"), ("nodeports", "30080")}

A Service holds a cluster IP unless it is headless (`clusterIP: None`) or an
ExternalName, and a node port per port when its type is NodePort. A value the
manifest asks for is checked (in range, not reserved, not held by another
Service); a missing one is picked at random from the dynamic band, then from
the static band once that is full. `taken_*` are what every Service holds now,
this one's own included: what `old_spec` holds is this Service's to keep.
The messages are Kubernetes'.
"""

from __future__ import annotations

import random

from controlplane.apiserver.services.network import ServiceNetwork
from controlplane.apiserver.validation_util import Errors
from proto import service_pb2

IPS = "serviceips"
PORTS = "nodeports"
_RANDOM_TRIES = 64

Held = set[tuple[str, str]]


def needs_cluster_ip(spec: service_pb2.ServiceSpec) -> bool:
    return spec.type != "ExternalName" and spec.cluster_ip != "None"


def needs_node_ports(spec: service_pb2.ServiceSpec) -> bool:
    return spec.type == "NodePort"


def held(spec: service_pb2.ServiceSpec) -> Held:
    out: Held = set()
    if needs_cluster_ip(spec) and spec.cluster_ip:
        out.add((IPS, spec.cluster_ip))
    if needs_node_ports(spec):
        out.update((PORTS, str(p.node_port)) for p in spec.ports if p.node_port)
    return out


def _pick(lo: int, hi: int, static: int, taken: set[int], rng: random.Random) -> int | None:
    """A free value in [lo, hi): random in the dynamic band [lo+static, hi) first,
    then the static band; None when all are taken."""
    static = min(static, hi - lo)
    for band_lo, band_hi in ((lo + static, hi), (lo, lo + static)):
        if band_lo >= band_hi:
            continue
        for _ in range(_RANDOM_TRIES):
            v = rng.randrange(band_lo, band_hi)
            if v not in taken:
                return v
        start = rng.randrange(band_lo, band_hi)
        for i in range(band_hi - band_lo):
            v = band_lo + (start - band_lo + i) % (band_hi - band_lo)
            if v not in taken:
                return v
    return None


def assign(spec: service_pb2.ServiceSpec, old: service_pb2.ServiceSpec | None,
           net: ServiceNetwork, taken_ips: set[str], taken_ports: set[int],
           rng: random.Random | None = None) -> Errors:
    """Fill `spec`'s cluster IP and node ports; the errors of what it asks for."""
    rng = rng or random.Random()
    errs = Errors()
    mine = held(old) if old is not None else set()
    if needs_cluster_ip(spec):
        _assign_ip(spec, mine, net, taken_ips, rng, errs)
    elif spec.type == "ExternalName":
        spec.cluster_ip = ""
        del spec.cluster_ips[:]
    if needs_node_ports(spec):
        _assign_ports(spec, mine, net, taken_ports, rng, errs)
    return errs


def _assign_ip(spec: service_pb2.ServiceSpec, mine: Held, net: ServiceNetwork,
               taken: set[str], rng: random.Random, errs: Errors) -> None:
    ip = spec.cluster_ip
    if ip:
        if (IPS, ip) in mine:
            return
        if net.offset_of(ip) is None:
            errs.invalid("spec.clusterIPs", [ip],
                         f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the "
                         f"valid range. The range of valid IPs is {net.cidr}")
        elif net.reserved_ip(ip):
            errs.invalid("spec.clusterIPs", [ip],
                         f"failed to allocate IP {ip}: {net.reserved_ip(ip)}")
        elif ip in taken:
            errs.invalid("spec.clusterIPs", [ip],
                         f"failed to allocate IP {ip}: provided IP is already allocated")
        return
    used = {o for o in (net.offset_of(t) for t in taken) if o is not None}
    reserved = net.offset_of(net.dns_ip)
    if reserved is not None:
        used.add(reserved)
    off = _pick(0, net.size, net.ip_static_band, used, rng)
    if off is None:
        errs.invalid("spec.clusterIPs", [],
                     f"failed to allocate a serviceIP: range is full ({net.cidr})")
        return
    spec.cluster_ip = net.ip_at(off)
    del spec.cluster_ips[:]
    spec.cluster_ips.append(spec.cluster_ip)


def _assign_ports(spec: service_pb2.ServiceSpec, mine: Held, net: ServiceNetwork,
                  taken: set[int], rng: random.Random, errs: Errors) -> None:
    here: set[int] = set()
    for i, p in enumerate(spec.ports):
        if not p.node_port:
            continue
        path = f"spec.ports[{i}].nodePort"
        if (PORTS, str(p.node_port)) in mine or p.node_port in here:
            here.add(p.node_port)
        elif not net.port_lo <= p.node_port <= net.port_hi:
            errs.invalid(path, p.node_port, "provided port is not in the valid range. The "
                         f"range of valid ports is {net.port_range()}")
        elif p.node_port in taken:
            errs.invalid(path, p.node_port, "provided port is already allocated")
        else:
            here.add(p.node_port)
    used = {v - net.port_lo for v in taken | here if net.port_lo <= v <= net.port_hi}
    for i, p in enumerate(spec.ports):
        if p.node_port:
            continue
        off = _pick(0, net.ports, net.port_static_band, used, rng)
        if off is None:
            errs.invalid(f"spec.ports[{i}].nodePort", 0,
                         f"failed to allocate a nodePort: range is full ({net.port_range()})")
            return
        p.node_port = net.port_lo + off
        used.add(off)


def patch_allocated(new: service_pb2.ServiceSpec, old: service_pb2.ServiceSpec) -> None:
    """An update that leaves out the cluster IP or node ports keeps the stored ones
    (Kubernetes' patchAllocatedValues): `kubectl apply` of the original manifest must
    not ask for a new address."""
    if needs_cluster_ip(old) and needs_cluster_ip(new) and not new.cluster_ip and \
            not new.cluster_ips:
        new.cluster_ip = old.cluster_ip
        new.cluster_ips[:] = old.cluster_ips
    if needs_node_ports(old) and needs_node_ports(new):
        used = {p.node_port for p in new.ports if p.node_port}
        for p in new.ports:
            if p.node_port:
                continue
            proto = p.protocol or "TCP"
            same = [o for o in old.ports if o.name == p.name and o.protocol == proto]
            match = next((o for o in same if o.port == p.port), same[0] if same else None)
            if match is not None and match.node_port not in used:
                p.node_port = match.node_port
                used.add(p.node_port)
