"""Validation of v1 PersistentVolumes and PersistentVolumeClaims and storage.k8s.io/v1
StorageClasses (pkg/apis/core/validation, pkg/apis/storage/validation)."""

from __future__ import annotations

from controlplane.apiserver.validation_affinity import validate_node_selector
from controlplane.apiserver.validation_apps import validate_selector
from controlplane.apiserver.validation_util import Errors, has, join
from proto import storage_pb2

ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
RECLAIM_POLICIES = ("Retain", "Delete")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
VOLUME_MODES = ("Filesystem",)
PV_PHASES = ("Pending", "Available", "Bound", "Released", "Failed")
PVC_PHASES = ("Pending", "Bound", "Lost")


def _access_modes(modes: list[str], path: str, errs: Errors) -> None:
    if not modes:
        errs.required(path, "at least 1 access mode is required")
    for m in modes:
        if m not in ACCESS_MODES:
            errs.unsupported(path, m, ACCESS_MODES)
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.forbidden(path, "may not use ReadWriteOncePod with other access modes")


def _storage(values: dict[str, str], path: str, errs: Errors) -> None:
    if "storage" not in values:
        errs.required(join(path, "storage"))
    for name in sorted(values):
        if name != "storage":
            errs.unsupported(path, name, ("storage",))
            continue
        q = errs.quantity(join(path, name), values[name])
        if q is not None and q == 0:
            errs.invalid(join(path, name), values[name], "must be greater than zero")


def validate_pv(pv: storage_pb2.PersistentVolume, errs: Errors) -> None:
    s = pv.spec
    sources = [f for f in ("host_path", "local") if has(s, f)]
    if not sources:
        errs.required("spec", "must specify a volume type")
    elif len(sources) > 1:
        errs.forbidden("spec.local", "may not specify more than 1 volume type")
    if s.HasField("host_path"):
        errs.absolute_path("spec.hostPath.path", s.host_path.path)
        errs.enum("spec.hostPath.type", s.host_path.type, ("", "DirectoryOrCreate",
                                                           "Directory"))
    if s.HasField("local"):
        errs.absolute_path("spec.local.path", s.local.path)
        if not s.HasField("node_affinity"):
            errs.required("spec.nodeAffinity", "Local volume requires node affinity")
    if not s.capacity:
        errs.required("spec.capacity")
    else:
        _storage(dict(s.capacity), "spec.capacity", errs)
    _access_modes(list(s.access_modes), "spec.accessModes", errs)
    errs.enum("spec.persistentVolumeReclaimPolicy", s.persistent_volume_reclaim_policy,
              RECLAIM_POLICIES)
    if s.storage_class_name:
        errs.dns_subdomain("spec.storageClassName", s.storage_class_name)
    if s.HasField("volume_mode"):
        errs.enum("spec.volumeMode", s.volume_mode, VOLUME_MODES, allow_empty=False)
    if s.HasField("node_affinity"):
        if not s.node_affinity.HasField("required"):
            errs.required("spec.nodeAffinity.required")
        else:
            validate_node_selector(s.node_affinity.required, "spec.nodeAffinity.required",
                                   errs)
    errs.enum("status.phase", pv.status.phase, PV_PHASES)


def validate_pv_update(new: storage_pb2.PersistentVolume, old: storage_pb2.PersistentVolume,
                       errs: Errors) -> None:
    for field, js in (("host_path", "hostPath"), ("local", "local"),
                      ("node_affinity", "nodeAffinity"), ("volume_mode", "volumeMode"),
                      ("storage_class_name", "storageClassName")):
        if getattr(new.spec, field) != getattr(old.spec, field):
            errs.forbidden(f"spec.{js}", "field is immutable after creation")


def validate_claim_spec(s: storage_pb2.PersistentVolumeClaimSpec, path: str,
                        errs: Errors) -> None:
    _access_modes(list(s.access_modes), join(path, "accessModes"), errs)
    if s.HasField("selector"):
        validate_selector(s.selector, join(path, "selector"), errs)
    _storage(dict(s.resources.requests), join(path, "resources.requests"), errs)
    for name in sorted(s.resources.limits):
        errs.quantity(join(path, f"resources.limits.{name}"), s.resources.limits[name])
    if s.HasField("storage_class_name") and s.storage_class_name:
        errs.dns_subdomain(join(path, "storageClassName"), s.storage_class_name)
    if s.HasField("volume_mode"):
        errs.enum(join(path, "volumeMode"), s.volume_mode, VOLUME_MODES, allow_empty=False)


def validate_pvc(pvc: storage_pb2.PersistentVolumeClaim, errs: Errors) -> None:
    validate_claim_spec(pvc.spec, "spec", errs)
    errs.enum("status.phase", pvc.status.phase, PVC_PHASES)


def validate_pvc_update(new: storage_pb2.PersistentVolumeClaim,
                        old: storage_pb2.PersistentVolumeClaim, errs: Errors) -> None:
    """The spec is immutable, except that the binder fills volumeName once and a claim
    without a class gets the default one (Kubernetes' retroactive default class)."""
    a, b = storage_pb2.PersistentVolumeClaimSpec(), storage_pb2.PersistentVolumeClaimSpec()
    a.CopyFrom(new.spec)
    b.CopyFrom(old.spec)
    if not b.volume_name:
        a.volume_name = ""
    if not b.HasField("storage_class_name"):
        a.ClearField("storage_class_name")
    if a != b:
        errs.forbidden("spec", "spec is immutable after creation except resources.requests "
                               "for bound claims")


def validate_storage_class(sc: storage_pb2.StorageClass, errs: Errors) -> None:
    if not sc.provisioner:
        errs.required("provisioner")
    else:
        errs.qualified_name("provisioner", sc.provisioner)
    if sc.HasField("reclaim_policy"):
        errs.enum("reclaimPolicy", sc.reclaim_policy, RECLAIM_POLICIES, allow_empty=False)
    if sc.HasField("volume_binding_mode"):
        errs.enum("volumeBindingMode", sc.volume_binding_mode, BINDING_MODES,
                  allow_empty=False)


def validate_storage_class_update(new: storage_pb2.StorageClass,
                                  old: storage_pb2.StorageClass, errs: Errors) -> None:
    for field, js in (("provisioner", "provisioner"), ("parameters", "parameters"),
                      ("reclaim_policy", "reclaimPolicy"),
                      ("volume_binding_mode", "volumeBindingMode")):
        if getattr(new, field) != getattr(old, field):
            errs.forbidden(js, f"updates to {js} are forbidden.")
