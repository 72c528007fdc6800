"""A container's argv and environment: Kubernetes' rules for command/args
over the image's entrypoint/cmd, $(VAR) expansion, the downward API's fields
(used by the env hook, agent/podsync/hooks/env.py)."""

from __future__ import annotations

import re
from fractions import Fraction

from agent.ports import ImageInfo
from proto import core_pb2
from proto.quantity import parse

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(s: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined names are replaced, $$ escapes,
    anything else is left as written."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))
    return _VAR.sub(sub, s)


def argv_for(c: core_pb2.Container, image: ImageInfo, env: dict[str, str]) -> list[str]:
    command = [expand(x, env) for x in c.command]
    args = [expand(x, env) for x in c.args]
    if command:
        argv = command + args
    elif args:
        argv = list(image.entrypoint) + args
    else:
        argv = list(image.entrypoint) + list(image.cmd)
    if not argv:
        raise ValueError("no command specified: the image has no entrypoint or cmd "
                         "and the container sets no command")
    return argv


class FieldRefError(ValueError):
    pass


def field_ref(pod: core_pb2.Pod, path: str, pod_ip: str, host_ip: str) -> str:
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if m:
        d = pod.metadata.labels if m.group(1) == "labels" else pod.metadata.annotations
        return d.get(m.group(2), "")
    simple = {
        "metadata.name": pod.metadata.name,
        "metadata.namespace": pod.metadata.namespace,
        "metadata.uid": pod.metadata.uid,
        "spec.nodeName": pod.spec.node_name,
        "spec.serviceAccountName": pod.spec.service_account_name,
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path not in simple:
        raise FieldRefError(f"unsupported fieldRef.fieldPath {path!r}")
    return simple[path]


def resource_ref(pod: core_pb2.Pod, c: core_pb2.Container,
                 ref: core_pb2.ResourceFieldSelector) -> str:
    target = c
    if ref.container_name:
        for x in list(pod.spec.containers) + list(pod.spec.init_containers):
            if x.name == ref.container_name:
                target = x
    kind, _, res = ref.resource.partition(".")
    table = target.resources.limits if kind == "limits" else target.resources.requests
    if res not in ("cpu", "memory", "ephemeral-storage") or kind not in ("limits", "requests"):
        raise FieldRefError(f"unsupported resourceFieldRef.resource {ref.resource!r}")
    raw = table.get(res) or (target.resources.limits.get(res) if kind == "requests" else None)
    if raw is None:
        return "0"
    divisor = parse(ref.divisor) if ref.divisor else Fraction(1)
    v = parse(raw) / divisor
    return str(int(-(-v // 1)))   # rounded up, as Kubernetes does
