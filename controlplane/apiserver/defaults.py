"""Kubernetes' defaults, applied in place before validation.

`apply_defaults(obj)` fills what a manifest may leave out, with the values
Kubernetes uses (pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go),
so a manifest written for Kubernetes means the same thing here. Defaulting is
idempotent and never fails: values it cannot interpret (a malformed
quantity) are left for validation to report.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from controlplane.apiserver.defaults_config import default_config_volumes, default_secret
from controlplane.apiserver.defaults_service import (
    default_endpoint_slice,
    default_endpoints,
    default_service,
)
from controlplane.apiserver.defaults_workloads import WORKLOAD_TYPES, default_workload
from proto import (
    api_pb2,
    apps_pb2,
    config_pb2,
    core_pb2,
    discovery_pb2,
    kinds,
    quantity,
    service_pb2,
)

__all__ = [
    "apply_defaults",
    "default_image_pull_policy",
    "default_pod_spec",
    "qos_class",
]

DEFAULT_NAMESPACE = "default"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_TERMINATION_GRACE_SECONDS = 30
TERMINATION_MESSAGE_PATH = "/dev/termination-log"


def apply_defaults(obj: api_pb2.Object) -> None:
    """Fill Kubernetes' defaults into `obj`, in place."""
    kind = kinds.of(obj)
    msg = kinds.unwrap(obj)
    msg.api_version = kind.api_version  # type: ignore[attr-defined]
    msg.kind = kind.kind  # type: ignore[attr-defined]
    meta = msg.metadata  # type: ignore[attr-defined]
    if kind.namespaced and not meta.namespace:
        meta.namespace = DEFAULT_NAMESPACE
    if isinstance(msg, core_pb2.Pod):
        _default_pod(msg)
    elif isinstance(msg, apps_pb2.Deployment):
        _default_deployment(msg)
    elif isinstance(msg, apps_pb2.ReplicaSet):
        _default_replicaset(msg)
    elif isinstance(msg, service_pb2.Service):
        default_service(msg)
    elif isinstance(msg, discovery_pb2.EndpointSlice):
        default_endpoint_slice(msg)
    elif isinstance(msg, service_pb2.Endpoints):
        default_endpoints(msg)
    elif isinstance(msg, WORKLOAD_TYPES):
        for template in default_workload(msg):
            _default_template(template)
    elif isinstance(msg, core_pb2.Namespace):
        if not msg.status.phase:
            msg.status.phase = "Active"
    elif isinstance(msg, config_pb2.Secret):
        default_secret(msg)
    elif isinstance(msg, core_pb2.Event):
        if msg.count == 0:
            msg.count = 1
        if not msg.type:
            msg.type = "Normal"


# ---- pods ---------------------------------------------------------------------

def _default_pod(pod: core_pb2.Pod) -> None:
    default_pod_spec(pod.spec)
    if not pod.status.phase:
        pod.status.phase = "Pending"
    if not pod.status.qos_class:
        pod.status.qos_class = qos_class(pod.spec)


def default_pod_spec(spec: core_pb2.PodSpec) -> None:
    """Defaults of a PodSpec, for pods and pod templates alike."""
    if not spec.restart_policy:
        spec.restart_policy = "Always"
    if not spec.HasField("termination_grace_period_seconds"):
        spec.termination_grace_period_seconds = DEFAULT_TERMINATION_GRACE_SECONDS
    if not spec.dns_policy:
        spec.dns_policy = "ClusterFirst"
    if not spec.scheduler_name:
        spec.scheduler_name = DEFAULT_SCHEDULER
    default_config_volumes(spec)
    for c in [*spec.init_containers, *spec.containers]:
        _default_container(c, spec.host_network)


def default_image_pull_policy(image: str) -> str:
    """Kubernetes' rule: Always when the tag is "latest", or when there is neither a
    tag nor a digest (which means latest); IfNotPresent otherwise."""
    name, _, digest = image.partition("@")
    tag = name.rsplit("/", 1)[-1].partition(":")[2]
    if tag == "latest" or (not tag and not digest):
        return "Always"
    return "IfNotPresent"


def _default_container(c: core_pb2.Container, host_network: bool) -> None:
    if not c.image_pull_policy:
        c.image_pull_policy = default_image_pull_policy(c.image)
    if not c.termination_message_path:
        c.termination_message_path = TERMINATION_MESSAGE_PATH
    if not c.termination_message_policy:
        c.termination_message_policy = "File"
    for p in c.ports:
        if not p.protocol:
            p.protocol = "TCP"
        if host_network and p.host_port == 0:
            p.host_port = p.container_port
    for name in ("liveness_probe", "readiness_probe", "startup_probe"):
        if c.HasField(name):
            _default_probe(getattr(c, name))
    # requests default to limits when only limits are given
    for res, value in c.resources.limits.items():
        if res not in c.resources.requests:
            c.resources.requests[res] = value


def _default_probe(p: core_pb2.Probe) -> None:
    if p.timeout_seconds == 0:
        p.timeout_seconds = 1
    if p.period_seconds == 0:
        p.period_seconds = 10
    if p.success_threshold == 0:
        p.success_threshold = 1
    if p.failure_threshold == 0:
        p.failure_threshold = 3
    if p.HasField("http_get"):
        if not p.http_get.path:
            p.http_get.path = "/"
        if not p.http_get.scheme:
            p.http_get.scheme = "HTTP"


_QOS_RESOURCES = ("cpu", "memory")


def _positive(values: Iterable[tuple[str, str]]) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    for name, text in values:
        if name not in _QOS_RESOURCES:
            continue
        try:
            q = quantity.parse(text)
        except quantity.QuantityError:
            continue
        if q > 0:
            out[name] = out.get(name, Fraction(0)) + q
    return out


def qos_class(spec: core_pb2.PodSpec) -> str:
    """Guaranteed, Burstable or BestEffort, as Kubernetes computes it."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for c in [*spec.init_containers, *spec.containers]:
        for name, q in _positive(c.resources.requests.items()).items():
            requests[name] = requests.get(name, Fraction(0)) + q
        found = _positive(c.resources.limits.items())
        for name, q in found.items():
            limits[name] = limits.get(name, Fraction(0)) + q
        if set(found) != set(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests.keys() == limits.keys() and all(
        limits[n] == q for n, q in requests.items()
    ):
        return "Guaranteed"
    return "Burstable"


# ---- apps ---------------------------------------------------------------------

def _default_template(t: core_pb2.PodTemplateSpec) -> None:
    default_pod_spec(t.spec)


def _default_deployment(d: apps_pb2.Deployment) -> None:
    s = d.spec
    if not s.HasField("replicas"):
        s.replicas = 1
    if not s.strategy.type:
        s.strategy.type = "RollingUpdate"
    if s.strategy.type == "RollingUpdate":
        ru = s.strategy.rolling_update
        if not ru.HasField("max_unavailable"):
            ru.max_unavailable.str_val = "25%"
        if not ru.HasField("max_surge"):
            ru.max_surge.str_val = "25%"
    if not s.HasField("revision_history_limit"):
        s.revision_history_limit = 10
    if not s.HasField("progress_deadline_seconds"):
        s.progress_deadline_seconds = 600
    _default_template(s.template)


def _default_replicaset(rs: apps_pb2.ReplicaSet) -> None:
    if not rs.spec.HasField("replicas"):
        rs.spec.replicas = 1
    _default_template(rs.spec.template)
