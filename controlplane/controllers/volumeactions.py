"""The writes of the volume controller (controllers/volumes.py): binding a claim and a
volume to each other, provisioning a local-path volume on a node, and the claim's and
volume's status. Each is safe to repeat: a pass that stopped half-way is finished by
the next one (the volume is pre-bound to its claim before the claim names it)."""

from __future__ import annotations

from controlplane import errors, events
from controlplane.client import Client
from controlplane.objects import copy_of, now_ts, reference_of
from controlplane.volumematch import (
    LOCAL_PATH_FINALIZER,
    LOCAL_PATH_ROOT,
    PROVISIONED_BY,
)
from proto import api_pb2, core_pb2, storage_pb2
from proto.labels.nodeselector import for_node

BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"


class VolumeActions:
    def __init__(self, client: Client, recorder: events.EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def bind(self, pv_obj: api_pb2.Object, claim_obj: api_pb2.Object) -> None:
        """Volume first (claimRef), then the claim (volumeName), then both statuses."""
        pv, claim = pv_obj.persistent_volume, claim_obj.persistent_volume_claim
        if pv.spec.claim_ref.uid != claim.metadata.uid:
            upd = copy_of(pv_obj)
            upd.persistent_volume.spec.claim_ref.CopyFrom(reference_of(claim_obj))
            upd.persistent_volume.metadata.annotations[BOUND_BY_CONTROLLER] = "yes"
            pv_obj = await self.client.update(upd)
        await self.volume_phase(pv_obj, "Bound")
        if claim.spec.volume_name != pv.metadata.name:
            upd = copy_of(claim_obj)
            upd.persistent_volume_claim.spec.volume_name = pv.metadata.name
            upd.persistent_volume_claim.metadata.annotations[BIND_COMPLETED] = "yes"
            upd.persistent_volume_claim.metadata.annotations[BOUND_BY_CONTROLLER] = "yes"
            claim_obj = await self.client.update(upd)
        await self.claim_bound(claim_obj, pv_obj.persistent_volume)

    async def claim_bound(self, claim_obj: api_pb2.Object,
                          pv: storage_pb2.PersistentVolume) -> None:
        st = storage_pb2.PersistentVolumeClaimStatus(phase="Bound")
        st.access_modes.extend(pv.spec.access_modes)
        st.capacity.update(pv.spec.capacity)
        await self._claim_status(claim_obj, st)

    async def claim_lost(self, claim_obj: api_pb2.Object, message: str) -> None:
        c = claim_obj.persistent_volume_claim
        if c.status.phase != "Lost":
            self.recorder.record(claim_obj, events.WARNING, "ClaimLost", message)
        await self._claim_status(claim_obj, storage_pb2.PersistentVolumeClaimStatus(
            phase="Lost"))

    async def _claim_status(self, claim_obj: api_pb2.Object,
                            st: storage_pb2.PersistentVolumeClaimStatus) -> None:
        if claim_obj.persistent_volume_claim.status == st:
            return
        upd = copy_of(claim_obj)
        upd.persistent_volume_claim.status.CopyFrom(st)
        try:
            await self.client.update_status(upd)
        except errors.NotFound:
            pass

    async def volume_phase(self, pv_obj: api_pb2.Object, phase: str,
                           message: str = "") -> api_pb2.Object:
        st = pv_obj.persistent_volume.status
        if st.phase == phase and st.message == message:
            return pv_obj
        upd = copy_of(pv_obj)
        upd.persistent_volume.status.phase = phase
        upd.persistent_volume.status.message = message
        upd.persistent_volume.status.last_phase_transition_time.CopyFrom(now_ts())
        try:
            return await self.client.update_status(upd)
        except errors.NotFound:
            return pv_obj

    async def provision(self, claim_obj: api_pb2.Object, cls: storage_pb2.StorageClass,
                        node: core_pb2.Node) -> bool:
        """A hostPath volume `<root>/pvc-<uid>_<namespace>_<name>` on `node`, pinned there,
        pre-bound to the claim; the node's agent makes the directory when a pod mounts
        it and removes it after the volume is deleted (the finalizer waits for that)."""
        c = claim_obj.persistent_volume_claim
        root = node.metadata.annotations.get(LOCAL_PATH_ROOT, "")
        where = f'claim "{c.metadata.namespace}/{c.metadata.name}"'
        if not root:
            self.recorder.record(claim_obj, events.WARNING, "ProvisioningFailed",
                                 f'node "{node.metadata.name}" does not say where its local '
                                 f"volumes live (annotation {LOCAL_PATH_ROOT}): is its agent "
                                 "running?")
            return False
        self.recorder.record(claim_obj, events.NORMAL, "Provisioning",
                             f"External provisioner is provisioning volume for {where}")
        name = f"pvc-{c.metadata.uid}"
        pv = storage_pb2.PersistentVolume(api_version="v1", kind="PersistentVolume")
        pv.metadata.name = name
        pv.metadata.annotations[PROVISIONED_BY] = cls.provisioner
        pv.metadata.finalizers.append(LOCAL_PATH_FINALIZER)
        s = pv.spec
        s.capacity["storage"] = c.spec.resources.requests.get("storage", "0")
        s.access_modes.extend(c.spec.access_modes)
        s.host_path.path = f"{root.rstrip('/')}/{name}_{c.metadata.namespace}_{c.metadata.name}"
        s.host_path.type = "DirectoryOrCreate"
        s.persistent_volume_reclaim_policy = cls.reclaim_policy or "Delete"
        s.storage_class_name = cls.metadata.name
        s.volume_mode = "Filesystem"
        s.node_affinity.required.CopyFrom(for_node(node.metadata.name))
        s.claim_ref.CopyFrom(reference_of(claim_obj))
        try:
            await self.client.create(api_pb2.Object(persistent_volume=pv))
        except errors.AlreadyExists:
            return True
        self.recorder.record(claim_obj, events.NORMAL, "ProvisioningSucceeded",
                             f"Successfully provisioned volume {name}")
        return True
