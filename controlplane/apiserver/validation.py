"""Validation of API objects, with Kubernetes' field paths and wording.

    validate(obj, old=None) -> list[FieldError]     empty: valid

`old` is the stored object on an update: then the immutable fields are checked
too. The registry applies defaults first (defaults.py), so enums that
defaulting fills are accepted empty here. Pod specs live in validation_pod.py
and validation_container.py, apps/v1 in validation_apps.py.
"""

from __future__ import annotations

import ipaddress

from google.protobuf.message import Message

from controlplane.apiserver.validation_apps import (
    validate_apps_update,
    validate_deployment,
    validate_replicaset,
)
from controlplane.apiserver.validation_config import (
    validate_configmap,
    validate_configmap_update,
    validate_secret,
    validate_secret_update,
)
from controlplane.apiserver.validation_endpoints import (
    validate_endpoint_slice,
    validate_endpoints,
)
from controlplane.apiserver.validation_pod import TAINT_EFFECTS, validate_pod_spec
from controlplane.apiserver.validation_service import validate_service, validate_service_update
from controlplane.apiserver.validation_util import Errors, join, show
from controlplane.apiserver.validation_workload_kinds import KINDS as WORKLOAD_KINDS
from controlplane.apiserver.validation_workload_kinds import (
    validate_workload,
    validate_workload_update,
)
from controlplane.errors import FieldError
from proto import (
    api_pb2,
    apps_pb2,
    config_pb2,
    core_pb2,
    discovery_pb2,
    kinds,
    labels,
    meta_pb2,
    service_pb2,
)

__all__ = ["validate"]

POD_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
NAMESPACE_PHASES = ("Active", "Terminating")
EVENT_TYPES = ("Normal", "Warning")
MAX_ANNOTATIONS_BYTES = 256 * 1024


def validate(obj: api_pb2.Object, old: api_pb2.Object | None = None) -> list[FieldError]:
    """Every problem of `obj` (and of the change from `old`), with its field path."""
    errs = Errors()
    try:
        kind = kinds.of(obj)
    except kinds.UnknownKind as e:
        return [FieldError("", str(e))]
    msg = kinds.unwrap(obj)
    meta: meta_pb2.ObjectMeta = msg.metadata  # type: ignore[attr-defined]
    _metadata(meta, kind, errs)
    if isinstance(msg, core_pb2.Pod):
        validate_pod_spec(msg.spec, "spec", errs)
        errs.enum("status.phase", msg.status.phase, POD_PHASES)
    elif isinstance(msg, apps_pb2.Deployment):
        validate_deployment(msg, errs)
    elif isinstance(msg, apps_pb2.ReplicaSet):
        validate_replicaset(msg, errs)
    elif isinstance(msg, core_pb2.Node):
        _node(msg, errs)
    elif isinstance(msg, service_pb2.Service):
        validate_service(msg, errs)
    elif isinstance(msg, discovery_pb2.EndpointSlice):
        validate_endpoint_slice(msg, errs)
    elif isinstance(msg, service_pb2.Endpoints):
        validate_endpoints(msg, errs)
    elif isinstance(msg, WORKLOAD_KINDS):
        validate_workload(msg, errs)
    elif isinstance(msg, core_pb2.Namespace):
        errs.enum("status.phase", msg.status.phase, NAMESPACE_PHASES)
    elif isinstance(msg, core_pb2.Event):
        errs.enum("type", msg.type, EVENT_TYPES)
        errs.non_negative("count", msg.count)
    elif isinstance(msg, core_pb2.Lease):
        if msg.spec.HasField("lease_duration_seconds") and msg.spec.lease_duration_seconds <= 0:
            errs.invalid("spec.leaseDurationSeconds", msg.spec.lease_duration_seconds,
                         "must be greater than 0")
        errs.non_negative("spec.leaseTransitions", msg.spec.lease_transitions)
    elif isinstance(msg, config_pb2.ConfigMap):
        validate_configmap(msg, errs)
    elif isinstance(msg, config_pb2.Secret):
        validate_secret(msg, errs)
    if old is not None:
        _update(msg, old, kind, errs)
    return list(errs)


# ---- metadata -----------------------------------------------------------------

def _metadata(meta: meta_pb2.ObjectMeta, kind: kinds.Kind, errs: Errors) -> None:
    if not meta.name:
        if not meta.generate_name:
            errs.required("metadata.name", "name or generateName is required")
    elif kind.resource == "namespaces":
        errs.dns_label("metadata.name", meta.name)
    else:
        errs.dns_subdomain("metadata.name", meta.name)
    if meta.generate_name and not meta.name:
        # the generated name adds 5 characters; the prefix itself must fit the rule
        prefix = meta.generate_name.rstrip("-") or "x"
        errs.dns_subdomain("metadata.generateName", prefix)
    if kind.namespaced:
        if not meta.namespace:
            errs.required("metadata.namespace")
        else:
            errs.dns_label("metadata.namespace", meta.namespace)
    elif meta.namespace:
        errs.forbidden("metadata.namespace", "not allowed on this type")
    errs.labels("metadata.labels", meta.labels)
    size = 0
    for k in sorted(meta.annotations):
        errs.qualified_name("metadata.annotations", k.lower())
        size += len(k) + len(meta.annotations[k])
    if size > MAX_ANNOTATIONS_BYTES:
        errs.append(FieldError("metadata.annotations",
                               f"Too long: must have at most {MAX_ANNOTATIONS_BYTES} bytes"))
    controllers = 0
    for i, ref in enumerate(meta.owner_references):
        rp = f"metadata.ownerReferences[{i}]"
        for field, js in (("api_version", "apiVersion"), ("kind", "kind"), ("name", "name"),
                          ("uid", "uid")):
            if not getattr(ref, field):
                errs.required(join(rp, js))
        controllers += ref.HasField("controller") and ref.controller
    if controllers > 1:
        errs.invalid("metadata.ownerReferences", controllers,
                     "Only one reference can have Controller set to true")
    seen: set[str] = set()
    for i, f in enumerate(meta.finalizers):
        errs.qualified_name(f"metadata.finalizers[{i}]", f)
        if f in seen:
            errs.duplicate(f"metadata.finalizers[{i}]", f)
        seen.add(f)
    errs.non_negative("metadata.generation", meta.generation)
    if meta.HasField("deletion_grace_period_seconds"):
        errs.non_negative("metadata.deletionGracePeriodSeconds",
                          meta.deletion_grace_period_seconds)


# ---- nodes --------------------------------------------------------------------

def _node(node: core_pb2.Node, errs: Errors) -> None:
    for path, cidr in (("spec.podCIDR", node.spec.pod_cidr),
                       *((f"spec.podCIDRs[{i}]", c) for i, c in enumerate(node.spec.pod_cidrs))):
        if cidr:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                errs.invalid(path, cidr, "must be a valid CIDR (e.g. 10.244.1.0/24)")
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(node.spec.taints):
        tp = f"spec.taints[{i}]"
        if not t.key:
            errs.required(join(tp, "key"))
        else:
            errs.qualified_name(join(tp, "key"), t.key)
        for msg in labels.label_value_errors(t.value):
            errs.invalid(join(tp, "value"), t.value, msg)
        errs.enum(join(tp, "effect"), t.effect, TAINT_EFFECTS, allow_empty=False)
        if (t.key, t.effect) in seen:
            errs.duplicate(tp, f"{t.key}:{t.effect}")
        seen.add((t.key, t.effect))
    for field, values in (("capacity", node.status.capacity),
                          ("allocatable", node.status.allocatable)):
        for name in sorted(values):
            errs.quantity(f"status.{field}.{name}", values[name])
    errs.port("status.daemonEndpoints.kubeletEndpoint.Port",
              node.status.daemon_endpoints.kubelet_endpoint.port, allow_zero=True)


# ---- updates ------------------------------------------------------------------

def _update(msg: Message, old_obj: api_pb2.Object, kind: kinds.Kind, errs: Errors) -> None:
    if old_obj.WhichOneof("kind") != kind.field:
        errs.forbidden("kind", "may not change the kind of an object")
        return
    old = kinds.unwrap(old_obj)
    meta: meta_pb2.ObjectMeta = msg.metadata  # type: ignore[attr-defined]
    ometa: meta_pb2.ObjectMeta = old.metadata  # type: ignore[attr-defined]
    for field, js in (("name", "name"), ("namespace", "namespace"), ("uid", "uid")):
        new_v, old_v = getattr(meta, field), getattr(ometa, field)
        if new_v != old_v and (new_v or field != "uid"):
            errs.invalid(f"metadata.{js}", new_v, "field is immutable")
    if (meta.HasField("creation_timestamp") and ometa.HasField("creation_timestamp")
            and meta.creation_timestamp != ometa.creation_timestamp):
        errs.invalid("metadata.creationTimestamp", "", "field is immutable")
    if isinstance(msg, core_pb2.Pod) and isinstance(old, core_pb2.Pod):
        _pod_update(msg, old, errs)
    elif isinstance(msg, apps_pb2.Deployment | apps_pb2.ReplicaSet) and isinstance(
            old, apps_pb2.Deployment | apps_pb2.ReplicaSet):
        validate_apps_update(msg, old, errs)
    elif isinstance(msg, service_pb2.Service) and isinstance(old, service_pb2.Service):
        validate_service_update(msg, old, errs)
    elif isinstance(msg, WORKLOAD_KINDS) and isinstance(old, WORKLOAD_KINDS):
        validate_workload_update(msg, old, errs)
    elif isinstance(msg, config_pb2.ConfigMap) and isinstance(old, config_pb2.ConfigMap):
        validate_configmap_update(msg, old, errs)
    elif isinstance(msg, config_pb2.Secret) and isinstance(old, config_pb2.Secret):
        validate_secret_update(msg, old, errs)
    elif (isinstance(msg, core_pb2.Node) and isinstance(old, core_pb2.Node)
          and old.spec.pod_cidr and msg.spec.pod_cidr != old.spec.pod_cidr):
        errs.forbidden("spec.podCIDR", "node updates may not change podCIDR except from "
                                           '"" to valid')


_POD_MUTABLE = ("`spec.containers[*].image`, `spec.initContainers[*].image`, "
                "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing "
                "tolerations) or `spec.nodeName` (only from \"\" to a node)")


def _pod_update(new: core_pb2.Pod, old: core_pb2.Pod, errs: Errors) -> None:
    if old.spec.node_name and new.spec.node_name != old.spec.node_name:
        errs.forbidden("spec.nodeName", f"may not change once set (was {show(old.spec.node_name)})")
    allowed = core_pb2.PodSpec()
    allowed.CopyFrom(old.spec)
    for field in ("containers", "init_containers"):
        for c, nc in zip(getattr(allowed, field), getattr(new.spec, field), strict=False):
            if c.image != nc.image:
                c.image = nc.image
                c.image_pull_policy = nc.image_pull_policy
    if new.spec.HasField("active_deadline_seconds"):
        if old.spec.HasField("active_deadline_seconds") and (
                new.spec.active_deadline_seconds > old.spec.active_deadline_seconds):
            errs.invalid("spec.activeDeadlineSeconds", new.spec.active_deadline_seconds,
                         "must be less than or equal to the previous value "
                         f"{old.spec.active_deadline_seconds}")
        allowed.active_deadline_seconds = new.spec.active_deadline_seconds
    elif old.spec.HasField("active_deadline_seconds"):
        errs.forbidden("spec.activeDeadlineSeconds", "may not be removed once set")
        allowed.ClearField("active_deadline_seconds")
    new_tols = list(new.spec.tolerations)
    missing = [t for t in old.spec.tolerations if t not in new_tols]
    if missing:
        errs.forbidden("spec.tolerations", "existing tolerations may not be removed or modified")
    del allowed.tolerations[:]
    allowed.tolerations.extend(new_tols)
    allowed.node_name = new.spec.node_name  # a change once set is reported above
    if allowed != new.spec:
        changed = [fd.json_name for fd in core_pb2.PodSpec.DESCRIPTOR.fields
                   if getattr(allowed, fd.name) != getattr(new.spec, fd.name)]
        errs.forbidden("spec", f"pod updates may not change fields other than {_POD_MUTABLE} "
                               f"(changed: {', '.join(changed)})")
