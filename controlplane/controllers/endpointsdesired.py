"""What the endpoints of a Service should be, from its pods (pure functions).

    groups = endpoint_groups(svc, pods, node_of)    # port set -> [Endpoint], sorted
    slices = desired_slices(svc, groups)            # EndpointSlices (unnamed, unwritten)
    ep = desired_endpoints(svc, groups)             # the v1 Endpoints object

As Kubernetes' EndpointSlice controller writes them: a pod is an endpoint once it
has an IP and while it has not finished; `ready` is its Ready condition, except
that a terminating pod (deletionTimestamp set) is `terminating: true` and not
ready, and `serving` keeps its Ready condition; with publishNotReadyAddresses
every endpoint is ready. A named targetPort is resolved per pod (a pod without
that port is left out of that port's group). Endpoints with the same resolved
ports share slices of at most MAX_PER_SLICE. The v1 Endpoints lists ready pods in
`addresses`, not-ready ones in `notReadyAddresses`, and leaves terminating ones
out (unless publishNotReadyAddresses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from proto import core_pb2, discovery_pb2, service_pb2

MAX_PER_SLICE = 100
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"

# (name, protocol, port) of each Service port this group of endpoints resolves
PortSet = tuple[tuple[str, str, int], ...]


def _pod_ready(pod: core_pb2.Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def resolve_port(pod: core_pb2.Pod, port: service_pb2.ServicePort) -> int | None:
    """The pod's port for a Service port: the number, or the container port by name."""
    tp = port.target_port
    which = tp.WhichOneof("value")
    if which == "str_val":
        for c in pod.spec.containers:
            for cp in c.ports:
                if cp.name == tp.str_val and (cp.protocol or "TCP") == port.protocol:
                    return cp.container_port
        return None
    return tp.int_val if which == "int_val" and tp.int_val else port.port


def in_endpoints(pod: core_pb2.Pod) -> bool:
    return bool(pod.status.pod_ip) and pod.status.phase not in ("Succeeded", "Failed")


def endpoint_of(svc: service_pb2.Service, pod: core_pb2.Pod,
                node_of: Callable[[str], str]) -> discovery_pb2.Endpoint:
    terminating = pod.metadata.HasField("deletion_timestamp")
    serving = _pod_ready(pod)       # the pod's Ready condition, whatever the Service says
    ep = discovery_pb2.Endpoint(addresses=[pod.status.pod_ip])
    # never ready while terminating, unless publishNotReadyAddresses (Kubernetes' rule)
    ep.conditions.ready = svc.spec.publish_not_ready_addresses or (serving and not terminating)
    ep.conditions.serving = serving
    ep.conditions.terminating = terminating
    if pod.spec.hostname and pod.spec.subdomain == svc.metadata.name:
        ep.hostname = pod.spec.hostname
    if pod.spec.node_name:
        ep.node_name = pod.spec.node_name
        zone = node_of(pod.spec.node_name)
        if zone:
            ep.zone = zone
    ref = ep.target_ref
    ref.kind, ref.namespace, ref.name, ref.uid = ("Pod", pod.metadata.namespace,
                                                  pod.metadata.name, pod.metadata.uid)
    return ep


def endpoint_groups(svc: service_pb2.Service, pods: Iterable[core_pb2.Pod],
                    node_of: Callable[[str], str] = lambda _: "",
                    ) -> dict[PortSet, list[discovery_pb2.Endpoint]]:
    groups: dict[PortSet, list[discovery_pb2.Endpoint]] = {}
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        if not in_endpoints(pod):
            continue
        resolved: list[tuple[str, str, int]] = []
        for sp in svc.spec.ports:
            number = resolve_port(pod, sp)
            if number is not None:
                resolved.append((sp.name, sp.protocol or "TCP", number))
        if svc.spec.ports and not resolved:
            continue
        groups.setdefault(tuple(resolved), []).append(endpoint_of(svc, pod, node_of))
    return groups


def _labels(svc: service_pb2.Service) -> dict[str, str]:
    out = {k: v for k, v in svc.metadata.labels.items() if not k.startswith("kubernetes.io/")}
    out[SERVICE_NAME_LABEL] = svc.metadata.name
    out[MANAGED_BY_LABEL] = MANAGED_BY
    if svc.spec.cluster_ip == "None":
        out[HEADLESS_LABEL] = ""
    return out


def desired_slices(svc: service_pb2.Service,
                   groups: dict[PortSet, list[discovery_pb2.Endpoint]],
                   ) -> list[discovery_pb2.EndpointSlice]:
    """Slices without name or owner (the controller sets those), one group's chunks
    after another; a Service with no endpoints gets one empty slice of its ports, like
    Kubernetes' placeholder."""
    out = []
    if not groups:
        groups = {tuple((p.name, p.protocol or "TCP", 0) for p in svc.spec.ports): []}
    for ports, endpoints in sorted(groups.items()):
        chunks = [endpoints[i:i + MAX_PER_SLICE]
                  for i in range(0, len(endpoints), MAX_PER_SLICE)] or [[]]
        for chunk in chunks:
            es = discovery_pb2.EndpointSlice(api_version="discovery.k8s.io/v1",
                                             kind="EndpointSlice", address_type="IPv4")
            es.metadata.namespace = svc.metadata.namespace
            es.metadata.labels.update(_labels(svc))
            es.endpoints.extend(chunk)
            for name, proto, number in ports:
                p = es.ports.add(name=name, protocol=proto)
                if number:
                    p.port = number
            out.append(es)
    return out


def desired_endpoints(svc: service_pb2.Service,
                      groups: dict[PortSet, list[discovery_pb2.Endpoint]],
                      ) -> service_pb2.Endpoints:
    ep = service_pb2.Endpoints(api_version="v1", kind="Endpoints")
    ep.metadata.name = svc.metadata.name
    ep.metadata.namespace = svc.metadata.namespace
    ep.metadata.labels.update({k: v for k, v in svc.metadata.labels.items()})
    if svc.spec.cluster_ip == "None":
        ep.metadata.labels[HEADLESS_LABEL] = ""
    for ports, endpoints in sorted(groups.items()):
        subset = service_pb2.EndpointSubset()
        for e in endpoints:
            c = e.conditions
            if c.terminating and not svc.spec.publish_not_ready_addresses:
                continue
            addr = (subset.addresses if c.ready else subset.not_ready_addresses).add(
                ip=e.addresses[0])
            if e.HasField("hostname"):
                addr.hostname = e.hostname
            if e.HasField("node_name"):
                addr.node_name = e.node_name
            addr.target_ref.CopyFrom(e.target_ref)
        if not subset.addresses and not subset.not_ready_addresses:
            continue
        for name, proto, number in ports:
            subset.ports.add(name=name, protocol=proto, port=number)
        ep.subsets.append(subset)
    return ep
