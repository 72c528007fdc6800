"""`corral describe pvc|pv|storageclass`, as kubectl."""

from __future__ import annotations

from corral.printers.describe.sections import Related, Writer, events_section, map_section
from proto import api_pb2, core_pb2
from proto.columns.storage import DEFAULT_CLASS, access_modes


def _finalizers(w: Writer, fins: list[str]) -> None:
    w.kv(0, "Finalizers", f"[{' '.join(fins)}]")


def describe_pvc(obj: api_pb2.Object, rel: Related, now: float) -> str:
    c = obj.persistent_volume_claim
    w = Writer()
    w.kv(0, "Name", c.metadata.name)
    w.kv(0, "Namespace", c.metadata.namespace)
    w.kv(0, "StorageClass", c.spec.storage_class_name)
    phase = "Terminating" if c.metadata.HasField("deletion_timestamp") else c.status.phase
    w.kv(0, "Status", phase)
    w.kv(0, "Volume", c.spec.volume_name)
    map_section(w, 0, "Labels", c.metadata.labels)
    map_section(w, 0, "Annotations", c.metadata.annotations, ": ")
    _finalizers(w, list(c.metadata.finalizers))
    w.kv(0, "Capacity", c.status.capacity.get("storage", ""))
    w.kv(0, "Access Modes", access_modes(c.status.access_modes))
    w.kv(0, "VolumeMode", c.spec.volume_mode or "Filesystem")
    w.kv(0, "Used By", ", ".join(p.metadata.name for p in rel.pods) or "<none>")
    events_section(w, rel.events, now)
    return w.render()


def _terms(w: Writer, sel: core_pb2.NodeSelector) -> None:
    w.line(0, "Node Affinity:")
    w.line(1, "Required Terms:")
    for i, t in enumerate(sel.node_selector_terms):
        parts = [f"{r.key} {r.operator.lower()} [{', '.join(r.values)}]"
                 for r in [*t.match_expressions, *t.match_fields]]
        w.kv(2, f"Term {i}", "\n".join(parts) or "<empty>")


def describe_pv(obj: api_pb2.Object, rel: Related, now: float) -> str:
    v = obj.persistent_volume
    s = v.spec
    w = Writer()
    w.kv(0, "Name", v.metadata.name)
    map_section(w, 0, "Labels", v.metadata.labels)
    map_section(w, 0, "Annotations", v.metadata.annotations, ": ")
    _finalizers(w, list(v.metadata.finalizers))
    w.kv(0, "StorageClass", s.storage_class_name)
    phase = "Terminating" if v.metadata.HasField("deletion_timestamp") else v.status.phase
    w.kv(0, "Status", phase)
    w.kv(0, "Claim", f"{s.claim_ref.namespace}/{s.claim_ref.name}" if s.claim_ref.name else "")
    w.kv(0, "Reclaim Policy", s.persistent_volume_reclaim_policy)
    w.kv(0, "Access Modes", access_modes(s.access_modes))
    w.kv(0, "VolumeMode", s.volume_mode or "Filesystem")
    w.kv(0, "Capacity", s.capacity.get("storage", ""))
    if s.node_affinity.HasField("required"):
        _terms(w, s.node_affinity.required)
    else:
        w.kv(0, "Node Affinity", "<none>")
    w.kv(0, "Message", v.status.message)
    w.line(0, "Source:")
    if s.HasField("host_path"):
        w.kv(1, "Type", "HostPath (bare host directory volume)")
        w.kv(1, "Path", s.host_path.path)
        w.kv(1, "HostPathType", s.host_path.type)
    elif s.HasField("local"):
        w.kv(1, "Type", "LocalVolume (a persistent volume backed by local storage on a node)")
        w.kv(1, "Path", s.local.path)
    events_section(w, rel.events, now)
    return w.render()


def describe_storage_class(obj: api_pb2.Object, rel: Related, now: float) -> str:
    c = obj.storage_class
    w = Writer()
    w.kv(0, "Name", c.metadata.name)
    w.kv(0, "IsDefaultClass",
         "Yes" if c.metadata.annotations.get(DEFAULT_CLASS) == "true" else "No")
    map_section(w, 0, "Annotations", c.metadata.annotations, "=")
    w.kv(0, "Provisioner", c.provisioner)
    map_section(w, 0, "Parameters", c.parameters, "=")
    w.kv(0, "AllowVolumeExpansion", str(c.allow_volume_expansion) if c.HasField(
        "allow_volume_expansion") else "<unset>")
    w.kv(0, "MountOptions", "<none>")
    w.kv(0, "ReclaimPolicy", c.reclaim_policy or "Delete")
    w.kv(0, "VolumeBindingMode", c.volume_binding_mode or "Immediate")
    events_section(w, rel.events, now)
    return w.render()
