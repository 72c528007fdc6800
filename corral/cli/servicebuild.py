"""Services built from flags, as kubectl's generators build them (pure): what
`corral expose` and `corral create service` send.

    svc = exposed(obj, ExposeFlags(port="80", target_port="8080", type="NodePort"))
    svc = created("clusterip", "web", ["80:8080"])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proto import api_pb2, kinds, service_pb2


class BuildError(ValueError):
    """The flags or the exposed object do not make a Service (message for the user)."""


@dataclass
class ExposeFlags:
    port: str = ""
    target_port: str = ""
    protocol: str = ""
    name: str = ""
    type: str = ""
    selector: str = ""
    labels: str = ""
    cluster_ip: str = ""
    session_affinity: str = ""
    external_name: str = ""
    namespace: str = "default"
    extra: dict[str, str] = field(default_factory=dict)


def _pairs(text: str, what: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        k, sep, v = part.partition("=")
        if not sep or not k:
            raise BuildError(f"invalid {what} {part!r}: expected KEY=VALUE")
        out[k] = v
    return out


Ports = list[tuple[int, str, str]]     # (number, protocol, name)


def _introspect(obj: api_pb2.Object) -> tuple[dict[str, str], dict[str, str], Ports]:
    """(selector, labels, container ports (number, protocol, name)) of what is exposed."""
    kind = kinds.of(obj)
    msg = kinds.unwrap(obj)
    labels = dict(msg.metadata.labels)  # type: ignore[attr-defined]
    if kind.resource == "services":
        s = obj.service.spec
        return dict(s.selector), labels, [(p.port, p.protocol or "TCP", p.name) for p in s.ports]
    if kind.resource == "pods":
        spec = obj.pod.spec
        selector = dict(obj.pod.metadata.labels)
    elif kind.resource in ("deployments", "replicasets"):
        sel = msg.spec.selector  # type: ignore[attr-defined]
        if len(sel.match_expressions):
            raise BuildError(f"cannot expose a {kind.singular} whose selector has "
                             "matchExpressions: give --selector")
        selector = dict(sel.match_labels)
        spec = msg.spec.template.spec  # type: ignore[attr-defined]
    else:
        raise BuildError(f"cannot expose a {kind.kind}: expose a pod, service, deployment "
                         "or replicaset")
    ports = [(p.container_port, p.protocol or "TCP", p.name)
             for c in spec.containers for p in c.ports]
    return selector, labels, ports


def _target(text: str, p: service_pb2.ServicePort) -> None:
    if text.isdigit():
        p.target_port.int_val = int(text)
    else:
        p.target_port.str_val = text


def exposed(obj: api_pb2.Object, f: ExposeFlags) -> api_pb2.Object:
    """The Service `kubectl expose` makes for `obj` with these flags."""
    selector, labels, found = _introspect(obj)
    if f.selector:
        selector = _pairs(f.selector, "selector")
    if f.labels:
        labels = _pairs(f.labels, "label")
    if not selector and f.type != "ExternalName":
        raise BuildError("couldn't retrieve selectors via --selector flag or introspection")
    out = api_pb2.Object()
    s = out.service
    s.metadata.name = f.name or kinds.unwrap(obj).metadata.name  # type: ignore[attr-defined]
    s.metadata.namespace = f.namespace
    s.metadata.labels.update(labels)
    s.spec.selector.update(selector)
    if f.port:
        if not f.port.isdigit():
            raise BuildError(f"invalid --port {f.port!r}: expected a number")
        p = s.spec.ports.add(port=int(f.port), protocol=f.protocol or "TCP")
        _target(f.target_port or f.port, p)
    else:
        if not found and f.type != "ExternalName":
            raise BuildError("couldn't find port via --port flag or introspection")
        for i, (number, proto, _name) in enumerate(found):
            p = s.spec.ports.add(port=number, protocol=f.protocol or proto)
            if len(found) > 1:
                p.name = f"port-{i + 1}"
            _target(f.target_port or str(number), p)
    if f.type:
        s.spec.type = f.type
    if f.cluster_ip:
        s.spec.cluster_ip = f.cluster_ip
    if f.session_affinity:
        s.spec.session_affinity = f.session_affinity
    if f.external_name:
        s.spec.external_name = f.external_name
    return out


def created(kind: str, name: str, tcp: list[str], *, cluster_ip: str = "",
            node_port: int = 0, external_name: str = "",
            namespace: str = "default") -> api_pb2.Object:
    """`kubectl create service clusterip|nodeport|externalname NAME --tcp=PORT:TARGET`."""
    types = {"clusterip": "ClusterIP", "nodeport": "NodePort", "externalname": "ExternalName"}
    out = api_pb2.Object()
    s = out.service
    s.metadata.name, s.metadata.namespace = name, namespace
    s.spec.type = types[kind]
    if kind != "externalname":
        s.metadata.labels["app"] = name
        s.spec.selector["app"] = name
    else:
        if not external_name:
            raise BuildError("--external-name is required for an externalname service")
        s.spec.external_name = external_name
    if cluster_ip:
        s.spec.cluster_ip = cluster_ip
    for spec in tcp:
        port, _, target = spec.partition(":")
        target = target or port
        if not port.isdigit() or not target:
            raise BuildError(f"invalid --tcp {spec!r}: expected PORT[:TARGET_PORT]")
        p = s.spec.ports.add(name=f"{port}-{target}", port=int(port), protocol="TCP")
        _target(target, p)
        if node_port and kind == "nodeport":
            p.node_port = node_port
    if not tcp and kind in ("clusterip", "nodeport") and cluster_ip != "None":
        raise BuildError("at least one --tcp=PORT[:TARGET_PORT] is required")
    return out
