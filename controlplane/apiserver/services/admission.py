"""Named target ports checked against the pods a Service selects.

Kubernetes resolves `targetPort: http` per pod and quietly leaves out pods
without such a port. corral refuses a Service whose named target port no
selected pod has, when its selector matches pods at all: that is almost
always a typo, and it would otherwise give a Service without endpoints. A
Service written before its pods is accepted (nothing to check against yet).
"""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.errors import FieldError
from proto import core_pb2, service_pb2


def _has_port(pod: core_pb2.Pod, name: str, protocol: str) -> bool:
    return any(cp.name == name and (cp.protocol or "TCP") == protocol
               for c in pod.spec.containers for cp in c.ports)


def target_port_errors(svc: service_pb2.Service,
                       selected: Sequence[core_pb2.Pod]) -> list[FieldError]:
    """Errors for each named target port that none of `selected` declares."""
    if not selected:
        return []
    out = []
    names = ", ".join(sorted(p.metadata.name for p in selected)[:3])
    more = f" and {len(selected) - 3} more" if len(selected) > 3 else ""
    for i, port in enumerate(svc.spec.ports):
        if port.target_port.WhichOneof("value") != "str_val":
            continue
        name = port.target_port.str_val
        if not any(_has_port(p, name, port.protocol or "TCP") for p in selected):
            out.append(FieldError(
                f"spec.ports[{i}].targetPort",
                f'Invalid value: "{name}": no container of the pods the selector matches '
                f"({names}{more}) has a {port.protocol or 'TCP'} port named \"{name}\""))
    return out
