"""Update semantics: what an update (or an apply) of a stored object writes."""

from __future__ import annotations

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.services.allocation import patch_allocated
from proto import api_pb2

Object = api_pb2.Object


def merge_update(old: Object, obj: Object, *, keep_missing: bool = False) -> Object:
    """The object an update of `old` with the client's `obj` writes.

    Server-set metadata and the status come from `old`; generation goes up
    when anything outside metadata and status changed. `keep_missing` (apply):
    keep what the system set and the manifest does not mention (a pod's
    nodeName, a node's podCIDR(s), finalizers, ownerReferences, annotations
    of other writers).
    """
    new = o.copy(obj)
    kind = o.kind_of(old)
    m, om = o.meta(new), o.meta(old)
    o.set_type_meta(new, kind)
    m.name, m.namespace = om.name, om.namespace
    if keep_missing and not m.generate_name:
        m.generate_name = om.generate_name
    for f in o.SYSTEM_META:
        m.ClearField(f)
    m.uid, m.generation = om.uid, om.generation
    if not len(m.managed_fields):   # a writer that does not know them keeps them
        m.managed_fields.extend(om.managed_fields)
    if om.HasField("creation_timestamp"):
        m.creation_timestamp.CopyFrom(om.creation_timestamp)
    if om.HasField("deletion_timestamp"):
        m.deletion_timestamp.CopyFrom(om.deletion_timestamp)
    if om.HasField("deletion_grace_period_seconds"):
        m.deletion_grace_period_seconds = om.deletion_grace_period_seconds
    if o.has_status(new):
        o.copy_status(new, old)
    if keep_missing:  # apply: keep what the system set and the manifest does not say
        if kind.resource == "pods" and not new.pod.spec.node_name:
            new.pod.spec.node_name = old.pod.spec.node_name
        if kind.resource == "nodes" and not new.node.spec.pod_cidr:
            new.node.spec.pod_cidr = old.node.spec.pod_cidr
            new.node.spec.pod_cidrs[:] = old.node.spec.pod_cidrs
        if kind.resource == "persistentvolumeclaims":   # what the binder filled in
            spec, ospec = new.persistent_volume_claim.spec, old.persistent_volume_claim.spec
            spec.volume_name = spec.volume_name or ospec.volume_name
            if not spec.HasField("storage_class_name") and ospec.HasField("storage_class_name"):
                spec.storage_class_name = ospec.storage_class_name
        if kind.resource == "persistentvolumes" and \
                not new.persistent_volume.spec.HasField("claim_ref"):
            new.persistent_volume.spec.claim_ref.CopyFrom(old.persistent_volume.spec.claim_ref)
        if not len(m.finalizers):
            m.finalizers.extend(om.finalizers)
        if not len(m.owner_references):
            m.owner_references.extend(om.owner_references)
        for k, v in om.annotations.items():
            m.annotations.setdefault(k, v)
    if kind.resource == "services":  # an update that omits them keeps IP and node ports
        patch_allocated(new.service.spec, old.service.spec)
    o.apply_defaults(new)
    if o.spec_of(new) != o.spec_of(old):
        m.generation = om.generation + 1
    if om.HasField("deletion_timestamp"):
        added = set(m.finalizers) - set(om.finalizers)
        if added:
            raise errors.Invalid(o.describe(old), [errors.FieldError(
                "metadata.finalizers",
                f"Forbidden: no new finalizers can be added if the object is being "
                f"deleted, found new finalizers {sorted(added)}")])
    o.validate(new, old)
    return new
