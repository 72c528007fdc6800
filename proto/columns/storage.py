"""The PersistentVolumeClaim, PersistentVolume and StorageClass columns of `corral get`,
as kubectl prints them (access modes abbreviated RWO, ROX, RWX, RWOP)."""

from __future__ import annotations

from collections.abc import Iterable

from proto import api_pb2
from proto.columns.humanize import age

MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
         "ReadWriteOncePod": "RWOP"}
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


def access_modes(modes: Iterable[str]) -> str:
    return ",".join(MODES.get(m, m) for m in modes)


def pvc_row(obj: api_pb2.Object, now: float) -> list[str]:
    c = obj.persistent_volume_claim
    phase = "Terminating" if c.metadata.HasField("deletion_timestamp") else c.status.phase
    return [c.metadata.name, phase, c.spec.volume_name,
            c.status.capacity.get("storage", ""), access_modes(c.status.access_modes),
            c.spec.storage_class_name if c.spec.HasField("storage_class_name") else "<unset>",
            "<unset>", age(c.metadata.creation_timestamp, now)]


def pvc_wide(obj: api_pb2.Object, now: float) -> list[str]:
    c = obj.persistent_volume_claim
    return [c.spec.volume_mode or "Filesystem"]


def pv_row(obj: api_pb2.Object, now: float) -> list[str]:
    v = obj.persistent_volume
    ref = v.spec.claim_ref
    phase = "Terminating" if v.metadata.HasField("deletion_timestamp") else v.status.phase
    return [v.metadata.name, v.spec.capacity.get("storage", ""),
            access_modes(v.spec.access_modes), v.spec.persistent_volume_reclaim_policy, phase,
            f"{ref.namespace}/{ref.name}" if ref.name else "", v.spec.storage_class_name,
            "<unset>", v.status.reason, age(v.metadata.creation_timestamp, now)]


def pv_wide(obj: api_pb2.Object, now: float) -> list[str]:
    return [obj.persistent_volume.spec.volume_mode or "Filesystem"]


def sc_row(obj: api_pb2.Object, now: float) -> list[str]:
    s = obj.storage_class
    name = s.metadata.name
    if s.metadata.annotations.get(DEFAULT_CLASS) == "true":
        name += " (default)"
    return [name, s.provisioner, s.reclaim_policy or "Delete",
            s.volume_binding_mode or "Immediate",
            "true" if s.allow_volume_expansion else "false",
            age(s.metadata.creation_timestamp, now)]
