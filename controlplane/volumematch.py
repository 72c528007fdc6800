"""Which PersistentVolume can serve which claim, on which node (pure functions shared by
the volume controller, controllers/volumes.py, and the scheduler's VolumeBinding plugin),
and the names both use.

A volume fits a claim when its storage class is the claim's ("" for none), it offers
the claim's access modes and volume mode, at least the requested capacity, carries the
labels of the claim's selector, is not bound to another claim, and (when a node is
given) its node affinity admits that node. The smallest fitting volume is chosen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from proto import core_pb2, quantity, storage_pb2
from proto.labels import from_label_selector, matches_node_selector

LOCAL_PATH_CLASS = "local-path"
LOCAL_PATH_PROVISIONER = "corral.dev/local-path"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
LOCAL_PATH_ROOT = "corral.dev/local-path-root"        # Node annotation: where its volumes live
LOCAL_PATH_FINALIZER = "corral.dev/local-path-cleanup"  # the node removes it after rm -r
PVC_PROTECTION = "kubernetes.io/pvc-protection"
WAIT = "WaitForFirstConsumer"


def default_class(classes: Iterable[storage_pb2.StorageClass]) -> str:
    """The default StorageClass's name ("" if none; the newest if several)."""
    marked = [c for c in classes if c.metadata.annotations.get(DEFAULT_CLASS_ANNOTATION) ==
              "true"]
    marked.sort(key=lambda c: (c.metadata.creation_timestamp.ToNanoseconds(), c.metadata.name))
    return marked[-1].metadata.name if marked else ""


def storage(values: Mapping[str, str]) -> int:
    """The "storage" quantity of a capacity or requests map, in bytes (0: none or bad)."""
    try:
        return quantity.to_bytes(values.get("storage", "0"))
    except (quantity.QuantityError, ValueError):
        return 0


def node_admits(pv: storage_pb2.PersistentVolume, node: core_pb2.Node) -> bool:
    if not pv.spec.node_affinity.HasField("required"):
        return True
    return matches_node_selector(pv.spec.node_affinity.required, node)


def fits(pv: storage_pb2.PersistentVolume, claim: storage_pb2.PersistentVolumeClaim,
         node: core_pb2.Node | None = None) -> bool:
    ref = pv.spec.claim_ref
    if ref.name and (ref.name != claim.metadata.name or ref.namespace != claim.metadata.namespace
                     or (ref.uid and ref.uid != claim.metadata.uid)):
        return False
    if pv.metadata.HasField("deletion_timestamp") or pv.status.phase in ("Released", "Failed"):
        return False
    if pv.spec.storage_class_name != claim.spec.storage_class_name:
        return False
    if not set(claim.spec.access_modes) <= set(pv.spec.access_modes):
        return False
    if (pv.spec.volume_mode or "Filesystem") != (claim.spec.volume_mode or "Filesystem"):
        return False
    if storage(pv.spec.capacity) < storage(claim.spec.resources.requests):
        return False
    if claim.spec.HasField("selector") and not from_label_selector(
            claim.spec.selector).matches(pv.metadata.labels):
        return False
    return node is None or node_admits(pv, node)


def best(pvs: Iterable[storage_pb2.PersistentVolume], claim: storage_pb2.PersistentVolumeClaim,
         node: core_pb2.Node | None = None) -> storage_pb2.PersistentVolume | None:
    """The smallest volume that fits (a volume pre-bound to the claim first)."""
    ok = [pv for pv in pvs if fits(pv, claim, node)]
    ok.sort(key=lambda pv: (not pv.spec.claim_ref.name, storage(pv.spec.capacity),
                            pv.metadata.name))
    return ok[0] if ok else None
