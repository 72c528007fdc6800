"""The service environment variables a container starts with, like the kubelet's
(pkg/kubelet/envvars): for every Service with a cluster IP in the pod's namespace
(unless `enableServiceLinks: false`), and always for `kubernetes` in `default`:

    WEB_SERVICE_HOST=10.96.0.12            WEB_SERVICE_PORT=80
    WEB_SERVICE_PORT_HTTP=80               (each named port)
    WEB_PORT=tcp://10.96.0.12:80           (Docker links style, first port)
    WEB_PORT_80_TCP=tcp://10.96.0.12:80    WEB_PORT_80_TCP_PROTO=tcp
    WEB_PORT_80_TCP_PORT=80                WEB_PORT_80_TCP_ADDR=10.96.0.12

Only Services that exist when the container starts count (as in Kubernetes); the
container's own `env` overrides them.
"""

from __future__ import annotations

from collections.abc import Iterable

from proto import api_pb2, core_pb2, service_pb2

MASTER_NAMESPACE = "default"
MASTER_SERVICE = "kubernetes"


def env_name(service_name: str) -> str:
    return service_name.upper().replace("-", "_")


def _one(svc: service_pb2.Service) -> list[tuple[str, str]]:
    prefix = env_name(svc.metadata.name)
    ip = svc.spec.cluster_ip
    out = [(f"{prefix}_SERVICE_HOST", ip)]
    ports = list(svc.spec.ports)
    if ports:
        out.append((f"{prefix}_SERVICE_PORT", str(ports[0].port)))
    for p in ports:
        if p.name:
            out.append((f"{prefix}_SERVICE_PORT_{env_name(p.name)}", str(p.port)))
    for i, p in enumerate(ports):
        proto = (p.protocol or "TCP").lower()
        url = f"{proto}://{ip}:{p.port}"
        base = f"{prefix}_PORT_{p.port}_{proto.upper()}"
        if i == 0:
            out.append((f"{prefix}_PORT", url))
        out += [(base, url), (f"{base}_PROTO", proto), (f"{base}_PORT", str(p.port)),
                (f"{base}_ADDR", ip)]
    return out


def service_env(pod: core_pb2.Pod, services: Iterable[api_pb2.Object]) -> list[tuple[str, str]]:
    """The variables for `pod`, sorted by Service name (a name in the pod's namespace
    wins over the master Service of the same name)."""
    links = not pod.spec.HasField("enable_service_links") or pod.spec.enable_service_links
    chosen: dict[str, service_pb2.Service] = {}
    for o in services:
        svc = o.service
        ip = svc.spec.cluster_ip
        if not ip or ip == "None" or svc.spec.type == "ExternalName":
            continue
        name, ns = svc.metadata.name, svc.metadata.namespace
        if ns == MASTER_NAMESPACE and name == MASTER_SERVICE:
            chosen.setdefault(name, svc)
        if links and ns == pod.metadata.namespace:
            chosen[name] = svc
    out: list[tuple[str, str]] = []
    for name in sorted(chosen):
        out += _one(chosen[name])
    return out
