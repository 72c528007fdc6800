"""Kubernetes' defaults of Services, EndpointSlices and Endpoints
(pkg/apis/core/v1/defaults.go, pkg/apis/discovery/v1/defaults.go, and what the
Service REST storage fills before allocating).

The cluster IP(s) and node ports are not defaults: the registry allocates them
(controlplane/apiserver/services/).
"""

from __future__ import annotations

from proto import discovery_pb2, service_pb2

DEFAULT_AFFINITY_TIMEOUT = 10800     # 3 hours, like Kubernetes


def default_service(svc: service_pb2.Service) -> None:
    s = svc.spec
    if not s.type:
        s.type = "ClusterIP"
    if not s.session_affinity:
        s.session_affinity = "None"
    if s.session_affinity == "ClientIP" and \
            not s.session_affinity_config.client_ip.HasField("timeout_seconds"):
        s.session_affinity_config.client_ip.timeout_seconds = DEFAULT_AFFINITY_TIMEOUT
    for p in s.ports:
        if not p.protocol:
            p.protocol = "TCP"
        which = p.target_port.WhichOneof("value")
        if which is None or (which == "int_val" and p.target_port.int_val == 0) or \
                (which == "str_val" and p.target_port.str_val == ""):
            p.target_port.int_val = p.port
    if s.type in ("NodePort", "LoadBalancer") and not s.external_traffic_policy:
        s.external_traffic_policy = "Cluster"
    if s.type != "ExternalName":
        if not s.HasField("internal_traffic_policy"):
            s.internal_traffic_policy = "Cluster"
        if not s.HasField("ip_family_policy"):
            s.ip_family_policy = "SingleStack"
        if not s.ip_families:
            s.ip_families.append("IPv4")
    if s.cluster_ip and not s.cluster_ips:
        s.cluster_ips.append(s.cluster_ip)
    elif not s.cluster_ip and s.cluster_ips:
        s.cluster_ip = s.cluster_ips[0]


def default_endpoint_slice(es: discovery_pb2.EndpointSlice) -> None:
    for p in es.ports:
        if not p.HasField("name"):
            p.name = ""
        if not p.HasField("protocol"):
            p.protocol = "TCP"


def default_endpoints(ep: service_pb2.Endpoints) -> None:
    for subset in ep.subsets:
        for p in subset.ports:
            if not p.protocol:
                p.protocol = "TCP"
