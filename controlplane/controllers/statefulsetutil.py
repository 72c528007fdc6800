"""What the StatefulSet controller (controllers/statefulset.py) computes without writing:
ordinals, a pod's stable identity and storage, and the owner references its claims
carry under persistentVolumeClaimRetentionPolicy (Kubernetes' stateful_set_utils)."""

from __future__ import annotations

import re

from controlplane.objects import owner_ref_to
from proto import api_pb2, apps_pb2, core_pb2, meta_pb2, storage_pb2

from . import podutil
from .history import REVISION_HASH

POD_NAME = "statefulset.kubernetes.io/pod-name"
POD_INDEX = "apps.kubernetes.io/pod-index"


def ordinal(sts_name: str, pod: core_pb2.Pod) -> int | None:
    """The ordinal of `<sts>-<n>` (None: not one of the set's names)."""
    m = re.fullmatch(re.escape(sts_name) + r"-(0|[1-9][0-9]*)", pod.metadata.name)
    return int(m.group(1)) if m else None


def replicas(sts: apps_pb2.StatefulSet) -> int:
    return sts.spec.replicas if sts.spec.HasField("replicas") else 1


def partition(sts: apps_pb2.StatefulSet) -> int:
    ru = sts.spec.update_strategy.rolling_update
    if sts.spec.update_strategy.type == "OnDelete":
        return 0
    return ru.partition if ru.HasField("partition") else 0


def claim_name(template: str, sts_name: str, n: int) -> str:
    return f"{template}-{sts_name}-{n}"


def revision_of(pod: core_pb2.Pod) -> str:
    return pod.metadata.labels.get(REVISION_HASH, "")


def new_pod(sts_obj: api_pb2.Object, template: core_pb2.PodTemplateSpec, revision: str,
            n: int) -> api_pb2.Object:
    """Pod <sts>-<n> of `template` (the revision its ordinal gets): hostname its name,
    subdomain the governing Service, a persistentVolumeClaim volume per claim template."""
    sts = sts_obj.stateful_set
    name = f"{sts.metadata.name}-{n}"
    meta = meta_pb2.ObjectMeta(name=name, namespace=sts.metadata.namespace)
    meta.labels.update(template.metadata.labels)
    meta.labels[REVISION_HASH] = revision
    meta.labels[POD_NAME] = name
    meta.labels[POD_INDEX] = str(n)
    meta.annotations.update(template.metadata.annotations)
    meta.owner_references.append(owner_ref_to(sts_obj))
    pod = core_pb2.Pod(api_version="v1", kind="Pod", metadata=meta)
    pod.spec.CopyFrom(template.spec)
    pod.spec.hostname = name
    pod.spec.subdomain = sts.spec.service_name
    claims = {c.metadata.name for c in sts.spec.volume_claim_templates}
    kept = [v for v in pod.spec.volumes if v.name not in claims]
    del pod.spec.volumes[:]
    pod.spec.volumes.extend(kept)
    for c in sts.spec.volume_claim_templates:
        v = pod.spec.volumes.add(name=c.metadata.name)
        v.persistent_volume_claim.claim_name = claim_name(c.metadata.name, sts.metadata.name, n)
    return api_pb2.Object(pod=pod)


def new_claim(sts: apps_pb2.StatefulSet, template: storage_pb2.PersistentVolumeClaim,
              n: int) -> api_pb2.Object:
    """The claim <template>-<sts>-<n>: the template's spec, labelled with the set's
    selector (Kubernetes' getPersistentVolumeClaims)."""
    c = storage_pb2.PersistentVolumeClaim(api_version="v1", kind="PersistentVolumeClaim")
    c.metadata.name = claim_name(template.metadata.name, sts.metadata.name, n)
    c.metadata.namespace = sts.metadata.namespace
    c.metadata.labels.update(template.metadata.labels)
    c.metadata.labels.update(sts.spec.selector.match_labels)
    c.metadata.annotations.update(template.metadata.annotations)
    c.spec.CopyFrom(template.spec)
    return api_pb2.Object(persistent_volume_claim=c)


def _ref(obj: api_pb2.Object) -> meta_pb2.OwnerReference:
    ref = owner_ref_to(obj, controller=False, block=False)
    ref.ClearField("controller")
    ref.ClearField("block_owner_deletion")
    return ref


def claim_owners(claim: storage_pb2.PersistentVolumeClaim, sts_obj: api_pb2.Object,
                 pod_obj: api_pb2.Object | None, condemned: bool
                 ) -> list[meta_pb2.OwnerReference] | None:
    """The claim's owner references under the retention policy (None: unchanged).
    whenDeleted: Delete owns the claim by the set (the garbage collector deletes it with
    the set); whenScaled: Delete owns the claim of a pod being scaled away by that pod."""
    policy = sts_obj.stateful_set.spec.persistent_volume_claim_retention_policy
    set_uid = sts_obj.stateful_set.metadata.uid
    pod_uid = pod_obj.pod.metadata.uid if pod_obj is not None else ""
    want_set = policy.when_deleted == "Delete" and not (
        condemned and policy.when_scaled == "Delete")
    want_pod = condemned and policy.when_scaled == "Delete" and pod_obj is not None
    refs = [r for r in claim.metadata.owner_references if r.uid not in (set_uid, pod_uid)]
    if want_set:
        refs.append(_ref(sts_obj))
    if want_pod and pod_obj is not None:
        refs.append(_ref(pod_obj))
    old = [(r.uid, r.kind) for r in claim.metadata.owner_references]
    if sorted(old) == sorted((r.uid, r.kind) for r in refs):
        return None
    return refs


def healthy(pod: core_pb2.Pod, min_ready: int, now: float) -> bool:
    """Running and ready (for minReadySeconds), not being deleted."""
    return (pod.status.phase == "Running" and not pod.metadata.HasField("deletion_timestamp")
            and podutil.is_available(pod, min_ready, now))
