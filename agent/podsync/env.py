"""A container's argv and environment: Kubernetes' rules for command/args
over the image's entrypoint/cmd, $(VAR) expansion, the downward API."""

from __future__ import annotations

import re
from fractions import Fraction

from agent.ports import ImageInfo
from proto import core_pb2

_SUFFIX = {
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
_QTY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


class QuantityError(ValueError):
    pass


def parse_quantity(s: str) -> Fraction:
    """A Kubernetes quantity ('250m', '128Mi', '1.5', '1e3') in base units."""
    m = _QTY.match(s.strip())
    if not m or m.group(2) not in _SUFFIX:
        raise QuantityError(f"quantities must match the regular expression "
                            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {s!r}")
    try:
        return Fraction(m.group(1)) * _SUFFIX[m.group(2)]
    except ValueError as e:
        raise QuantityError(f"bad quantity {s!r}") from e


def cpu_millis(s: str) -> int:
    return int(-(-parse_quantity(s) * 1000 // 1))


def to_bytes(s: str) -> int:
    return int(-(-parse_quantity(s) // 1))


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
    divisor = parse_quantity(ref.divisor) if ref.divisor else Fraction(1)
    v = parse_quantity(raw) / divisor
    return str(int(-(-v // 1)))   # rounded up, as Kubernetes does


def env_for(pod: core_pb2.Pod, c: core_pb2.Container, image: ImageInfo, pod_ip: str,
            host_ip: str) -> list[tuple[str, str]]:
    env: dict[str, str] = {}
    for kv in image.env:
        k, _, v = kv.partition("=")
        env[k] = v
    for e in c.env:
        if e.HasField("value_from"):
            vf = e.value_from
            if vf.HasField("field_ref"):
                env[e.name] = field_ref(pod, vf.field_ref.field_path, pod_ip, host_ip)
            elif vf.HasField("resource_field_ref"):
                env[e.name] = resource_ref(pod, c, vf.resource_field_ref)
            else:
                raise FieldRefError(f"env {e.name}: unsupported valueFrom")
        else:
            env[e.name] = expand(e.value, env)
    env.setdefault("HOSTNAME", pod.spec.hostname or pod.metadata.name)
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return list(env.items())
