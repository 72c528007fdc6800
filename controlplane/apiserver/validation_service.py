"""Validation of Services (pkg/apis/core/validation ValidateService and
ValidateServiceUpdate), with Kubernetes' field paths and wording.

What the registry checks beyond the object itself lives elsewhere: the cluster
IP and node port allocations (services/allocation.py) and named target ports
against the selected pods (services/admission.py).
"""

from __future__ import annotations

import ipaddress

from controlplane.apiserver.validation_util import Errors, iana_port_name_errors, join
from proto import labels, service_pb2

SERVICE_TYPES = ("ClusterIP", "NodePort", "ExternalName")
PROTOCOLS = ("TCP", "UDP")
AFFINITIES = ("None", "ClientIP")
MAX_AFFINITY_TIMEOUT = 86400
HEADLESS = "None"


def is_headless(spec: service_pb2.ServiceSpec) -> bool:
    return spec.cluster_ip == HEADLESS


def validate_service(svc: service_pb2.Service, errs: Errors) -> None:
    if svc.metadata.name:
        for msg in labels.dns1035_label_errors(svc.metadata.name):
            errs.invalid("metadata.name", svc.metadata.name, msg)
    s = svc.spec
    if s.type == "LoadBalancer":
        errs.invalid("spec.type", s.type, "corral has no load balancer: use NodePort "
                     '(supported values: "ClusterIP", "ExternalName", "NodePort")')
    else:
        errs.enum("spec.type", s.type, SERVICE_TYPES)
    if s.type == "ExternalName":
        _external_name(s, errs)
    else:
        _cluster_ips(s, errs)
        if not s.ports and not is_headless(s):
            errs.required("spec.ports")
    _ports(s, errs)
    errs.labels("spec.selector", s.selector)
    _affinity(s, errs)
    _traffic_policies(s, errs)


def _external_name(s: service_pb2.ServiceSpec, errs: Errors) -> None:
    if s.cluster_ip or s.cluster_ips:
        errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services")
    name = s.external_name.removesuffix(".")
    if not name:
        errs.required("spec.externalName")
    else:
        for msg in labels.dns1123_subdomain_errors(name):
            errs.invalid("spec.externalName", s.external_name, msg)
    for i, p in enumerate(s.ports):
        if p.node_port:
            errs.forbidden(f"spec.ports[{i}].nodePort",
                           "may not be used when `type` is 'ExternalName'")


def _cluster_ips(s: service_pb2.ServiceSpec, errs: Errors) -> None:
    if s.cluster_ips and s.cluster_ip != s.cluster_ips[0]:
        errs.invalid("spec.clusterIPs", list(s.cluster_ips),
                     "must be empty or the first value must match spec.clusterIP")
    if len(s.cluster_ips) > 1:
        errs.invalid("spec.clusterIPs", list(s.cluster_ips),
                     "this cluster is single-stack (IPv4): at most one cluster IP")
    ip = s.cluster_ip
    if ip == HEADLESS:
        if s.type == "NodePort":
            errs.invalid("spec.clusterIPs[0]", ip,
                         "may not be set to 'None' for LoadBalancer or NodePort services")
    elif ip:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            errs.invalid("spec.clusterIPs[0]", ip, "must be a valid IP address, "
                         "(e.g. 10.9.8.7 or 2001:db8::ffff)")
        else:
            if addr.version != 4:
                errs.invalid("spec.clusterIPs[0]", ip,
                             "this cluster is single-stack (IPv4): no IPv6 cluster IPs")
    for i, fam in enumerate(s.ip_families):
        if fam != "IPv4":
            errs.invalid(f"spec.ipFamilies[{i}]", fam,
                         'this cluster is single-stack: only "IPv4" is supported')
    if s.HasField("ip_family_policy"):
        pol = s.ip_family_policy
        if pol == "RequireDualStack":
            errs.invalid("spec.ipFamilyPolicy", pol,
                         "this cluster is not configured for dual-stack services")
        else:
            errs.enum("spec.ipFamilyPolicy", pol, ("SingleStack", "PreferDualStack"))


def _ports(s: service_pb2.ServiceSpec, errs: Errors) -> None:
    names: set[str] = set()
    seen: set[tuple[int, str]] = set()
    node_ports: dict[tuple[int, str], int] = {}
    for i, p in enumerate(s.ports):
        pp = f"spec.ports[{i}]"
        if not p.name:
            if len(s.ports) > 1:
                errs.required(join(pp, "name"))
        else:
            for msg in labels.dns1123_label_errors(p.name):
                errs.invalid(join(pp, "name"), p.name, msg)
            if p.name in names:
                errs.duplicate(join(pp, "name"), p.name)
            names.add(p.name)
        errs.port(join(pp, "port"), p.port)
        if p.protocol == "SCTP":
            errs.unsupported(join(pp, "protocol"), p.protocol, PROTOCOLS)
        else:
            errs.enum(join(pp, "protocol"), p.protocol, PROTOCOLS, allow_empty=False)
        if (p.port, p.protocol) in seen:
            errs.duplicate(pp, f"{p.port}/{p.protocol}")
        seen.add((p.port, p.protocol))
        _target_port(p, join(pp, "targetPort"), errs)
        if p.node_port:
            if s.type == "ClusterIP":
                errs.forbidden(join(pp, "nodePort"),
                               "may not be used when `type` is 'ClusterIP'")
            errs.port(join(pp, "nodePort"), p.node_port)
            if (p.node_port, p.protocol) in node_ports:
                errs.duplicate(join(pp, "nodePort"), p.node_port)
            node_ports[(p.node_port, p.protocol)] = i


def _target_port(p: service_pb2.ServicePort, path: str, errs: Errors) -> None:
    which = p.target_port.WhichOneof("value")
    if which == "int_val":
        errs.port(path, p.target_port.int_val)
    elif which == "str_val":
        for msg in iana_port_name_errors(p.target_port.str_val):
            errs.invalid(path, p.target_port.str_val, msg)


def _affinity(s: service_pb2.ServiceSpec, errs: Errors) -> None:
    errs.enum("spec.sessionAffinity", s.session_affinity, AFFINITIES, allow_empty=False)
    cfg = s.session_affinity_config
    if s.session_affinity == "ClientIP":
        t = cfg.client_ip.timeout_seconds
        if not 0 < t <= MAX_AFFINITY_TIMEOUT:
            errs.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
                         f"must be greater than 0 and less than {MAX_AFFINITY_TIMEOUT}")
        if is_headless(s):
            errs.invalid("spec.sessionAffinity", s.session_affinity,
                         "must be None when spec.clusterIP is None")
        if s.type == "ExternalName":
            errs.invalid("spec.sessionAffinity", s.session_affinity,
                         "must be None when type is ExternalName")
    elif s.HasField("session_affinity_config"):
        errs.invalid("spec.sessionAffinityConfig", "",
                     f"must not be set when session affinity is {s.session_affinity}")


def _traffic_policies(s: service_pb2.ServiceSpec, errs: Errors) -> None:
    etp = s.external_traffic_policy
    if etp:
        if s.type not in ("NodePort", "LoadBalancer"):   # LoadBalancer: refused by its type
            errs.invalid("spec.externalTrafficPolicy", etp,
                         "may only be set for externally-accessible services")
        elif etp == "Local":
            errs.invalid("spec.externalTrafficPolicy", etp, 'corral\'s service proxy '
                         'implements only "Cluster" (node-local routing is not supported)')
        else:
            errs.enum("spec.externalTrafficPolicy", etp, ("Cluster",))
    if s.HasField("internal_traffic_policy"):
        itp = s.internal_traffic_policy
        if s.type == "ExternalName":
            errs.forbidden("spec.internalTrafficPolicy",
                           "may not be set for ExternalName services")
        elif itp == "Local":
            errs.invalid("spec.internalTrafficPolicy", itp, 'corral\'s service proxy '
                         'implements only "Cluster" (node-local routing is not supported)')
        else:
            errs.enum("spec.internalTrafficPolicy", itp, ("Cluster",), allow_empty=False)


def validate_service_update(new: service_pb2.Service, old: service_pb2.Service,
                            errs: Errors) -> None:
    """Kubernetes: the cluster IP may not change, except when the type changes to or
    from ExternalName (which has none)."""
    if "ExternalName" in (new.spec.type, old.spec.type):
        return
    if old.spec.cluster_ip and new.spec.cluster_ip != old.spec.cluster_ip:
        errs.invalid("spec.clusterIPs[0]", new.spec.cluster_ip,
                     f"may not change once set (it is {old.spec.cluster_ip})")
