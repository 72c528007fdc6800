"""Volume controller: PersistentVolumeClaims meet PersistentVolumes (Kubernetes'
persistentvolume controller, with the local-path provisioner and pvc-protection).

Claims (`pvc|<namespace>/<name>`):
* a claim without storageClassName gets the default class (`local-path`, built in);
* a claim carries `kubernetes.io/pvc-protection` and, once deleted, goes only when no
  scheduled pod that may still run uses it;
* unbound: the smallest fitting Available volume is bound (volumematch.py); with a
  WaitForFirstConsumer class only once the scheduler picked the first pod's node
  (annotation `volume.kubernetes.io/selected-node`) and only a volume that node can
  use. Without one, the `local-path` class provisions a directory volume on that
  node; any other provisioner is waited for (ExternalProvisioning); a class that does
  not exist leaves the claim Pending (ProvisioningFailed: storageclass ... not found);
* bound: its status says Bound with the volume's capacity; Lost if the volume is gone.

Volumes (`pv|<name>`): Available, Bound, or Released once their claim is gone; then
`persistentVolumeReclaimPolicy` Retain keeps them, Delete deletes a provisioned one (its
node's agent removes the directory, then the finalizer); a static volume cannot be
deleted by corral (Failed, as Kubernetes without a deleter).
"""

from __future__ import annotations

import asyncio
import logging

from controlplane import errors, events
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.objects import copy_of
from controlplane.profiles import DEFAULT, Profile
from controlplane.volumematch import (
    LOCAL_PATH_PROVISIONER,
    PROVISIONED_BY,
    PVC_PROTECTION,
    SELECTED_NODE,
    WAIT,
    best,
    default_class,
)
from proto import api_pb2

from .base import DONE, Controller, Result
from .volumeactions import VolumeActions

log = logging.getLogger(__name__)


def _claims_of(o: api_pb2.Object) -> list[str]:
    ns = o.pod.metadata.namespace
    return [f"{ns}/{v.persistent_volume_claim.claim_name}" for v in o.pod.spec.volumes
            if v.HasField("persistent_volume_claim")]


class VolumeController(Controller):
    name = "volumes"
    workers = 2

    def __init__(self, client: Client, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None,
                 profile: Profile = DEFAULT) -> None:
        super().__init__(backoff_initial=profile.workqueue_backoff_initial,
                         backoff_max=min(profile.workqueue_backoff_max, 5.0))
        self.client = client
        self.recorder = recorder or events.EventRecorder(client, "persistentvolume-controller")
        self.actions = VolumeActions(client, self.recorder)
        self.claims = factory.informer("persistentvolumeclaims")
        self.volumes = factory.informer("persistentvolumes")
        self.classes = factory.informer("storageclasses")
        self.pods = factory.informer("pods")
        self.nodes = factory.informer("nodes")
        self.pods.add_indexer("claims", _claims_of)
        self.claims.add_handler(Handler(self._claim, lambda o, n: self._claim(n), self._claim))
        self.volumes.add_handler(Handler(self._volume, lambda o, n: self._volume(n),
                                         self._volume))
        self.classes.add_handler(Handler(self._pending, lambda o, n: self._pending(n), None))
        self.nodes.add_handler(Handler(self._pending, lambda o, n: self._pending(n), None))
        self.pods.add_handler(Handler(self._pod, lambda o, n: self._pod(n), self._pod))

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in (
            self.claims, self.volumes, self.classes, self.pods, self.nodes)))

    # ---- handlers ----------------------------------------------------------
    def _claim(self, o: api_pb2.Object) -> None:
        c = o.persistent_volume_claim
        self.enqueue(f"pvc|{c.metadata.namespace}/{c.metadata.name}")
        if c.spec.volume_name:
            self.enqueue(f"pv|{c.spec.volume_name}")

    def _volume(self, o: api_pb2.Object) -> None:
        pv = o.persistent_volume
        self.enqueue(f"pv|{pv.metadata.name}")
        if pv.spec.claim_ref.name:
            self.enqueue(f"pvc|{pv.spec.claim_ref.namespace}/{pv.spec.claim_ref.name}")

    def _pending(self, o: api_pb2.Object | None = None) -> None:
        for c in self.claims.list():
            if not c.persistent_volume_claim.spec.volume_name:
                self._claim(c)

    def _pod(self, o: api_pb2.Object) -> None:
        for key in _claims_of(o):
            self.enqueue(f"pvc|{key}")

    async def reconcile(self, key: str) -> Result:
        kind, _, name = key.partition("|")
        return await (self._sync_claim(name) if kind == "pvc" else self._sync_volume(name))

    # ---- claims ------------------------------------------------------------
    def _in_use(self, key: str) -> bool:
        """A scheduled pod that may still run uses the claim (an unscheduled one cannot
        start without it: the node refuses a claim being deleted)."""
        return any(p.pod.spec.node_name and p.pod.status.phase not in ("Succeeded", "Failed")
                   for p in self.pods.by_index("claims", key))

    async def _sync_claim(self, key: str) -> Result:
        obj = self.claims.get(key)
        if obj is None:
            return DONE
        c = obj.persistent_volume_claim
        m = c.metadata
        if m.HasField("deletion_timestamp"):
            if PVC_PROTECTION in m.finalizers and not self._in_use(key):
                upd = copy_of(obj)
                upd.persistent_volume_claim.metadata.finalizers.remove(PVC_PROTECTION)
                await self.client.update(upd)
            return DONE
        if PVC_PROTECTION not in m.finalizers or not c.spec.HasField("storage_class_name"):
            upd = copy_of(obj)
            if PVC_PROTECTION not in m.finalizers:
                upd.persistent_volume_claim.metadata.finalizers.append(PVC_PROTECTION)
            if not c.spec.HasField("storage_class_name"):
                name = default_class(o.storage_class for o in self.classes.list())
                if name:
                    upd.persistent_volume_claim.spec.storage_class_name = name
            if upd != obj:
                await self.client.update(upd)
                return DONE     # the update brings the claim back
        if c.spec.volume_name:
            return await self._bound_claim(obj)
        return await self._unbound_claim(obj, key)

    async def _bound_claim(self, obj: api_pb2.Object) -> Result:
        c = obj.persistent_volume_claim
        pv = self.volumes.get(c.spec.volume_name)
        if pv is None:
            try:
                pv = await self.client.get("persistentvolumes", "", c.spec.volume_name)
            except errors.NotFound:
                await self.actions.claim_lost(obj, "Bound claim has lost its PersistentVolume."
                                                   " Data on the volume is lost!")
                return DONE
        ref = pv.persistent_volume.spec.claim_ref
        if ref.uid and ref.uid != c.metadata.uid:
            await self.actions.claim_lost(obj, "Two claims are bound to the same volume, this "
                                               "one is bound incorrectly")
            return DONE
        await self.actions.bind(pv, obj)
        return DONE

    async def _unbound_claim(self, obj: api_pb2.Object, key: str) -> Result:
        c = obj.persistent_volume_claim
        cls_name = c.spec.storage_class_name
        cls_obj = self.classes.get(cls_name) if cls_name else None
        if cls_name and cls_obj is None:
            self.recorder.record(obj, events.WARNING, "ProvisioningFailed",
                                 f'storageclass.storage.k8s.io "{cls_name}" not found')
            return DONE
        cls = cls_obj.storage_class if cls_obj is not None else None
        wait = cls is not None and cls.volume_binding_mode == WAIT
        node_name = c.metadata.annotations.get(SELECTED_NODE, "")
        node_obj = self.nodes.get(node_name) if node_name else None
        if wait and node_obj is None:
            self.recorder.record(obj, events.NORMAL, "WaitForFirstConsumer",
                                 "waiting for first consumer to be created before binding")
            return DONE
        pv = best((v.persistent_volume for v in self.volumes.list()), c,
                  node_obj.node if wait and node_obj is not None else None)
        if pv is not None:
            pv_obj = self.volumes.get(pv.metadata.name)
            assert pv_obj is not None
            await self.actions.bind(pv_obj, obj)
            return DONE
        if cls is None:
            self.recorder.record(obj, events.NORMAL, "FailedBinding",
                                 "no persistent volumes available for this claim and no "
                                 "storage class is set")
            return DONE
        if cls.provisioner != LOCAL_PATH_PROVISIONER:
            self.recorder.record(obj, events.NORMAL, "ExternalProvisioning",
                                 "Waiting for a volume to be created either by the external "
                                 f"provisioner '{cls.provisioner}' or manually by the system "
                                 "administrator. If volume creation is delayed, please verify "
                                 "that the provisioner is running and correctly registered.")
            return DONE
        if node_obj is None:
            self.recorder.record(obj, events.WARNING, "ProvisioningFailed",
                                 f"the {cls.provisioner} provisioner makes a volume on one "
                                 "node: its class needs volumeBindingMode: "
                                 "WaitForFirstConsumer")
            return DONE
        if not await self.actions.provision(obj, cls, node_obj.node):
            return Result(requeue_after=5.0)
        return DONE

    # ---- volumes -----------------------------------------------------------
    async def _sync_volume(self, name: str) -> Result:
        obj = self.volumes.get(name)
        if obj is None or obj.persistent_volume.metadata.HasField("deletion_timestamp"):
            return DONE
        pv = obj.persistent_volume
        ref = pv.spec.claim_ref
        if not ref.name:
            await self.actions.volume_phase(obj, "Available")
            return DONE
        claim = self.claims.get(f"{ref.namespace}/{ref.name}")
        if claim is None and ref.uid:
            try:     # the cache may lag behind a claim made a moment ago
                claim = await self.client.get("persistentvolumeclaims", ref.namespace,
                                              ref.name)
            except errors.NotFound:
                claim = None
        if claim is not None and (not ref.uid or claim.persistent_volume_claim.metadata.uid
                                  == ref.uid):
            if claim.persistent_volume_claim.spec.volume_name == name:
                await self.actions.volume_phase(obj, "Bound")
            return DONE
        if not ref.uid:     # pre-bound by a person to a claim that does not exist yet
            await self.actions.volume_phase(obj, "Available")
            return DONE
        obj = await self.actions.volume_phase(obj, "Released")
        if pv.spec.persistent_volume_reclaim_policy != "Delete":
            return DONE
        if pv.metadata.annotations.get(PROVISIONED_BY) == LOCAL_PATH_PROVISIONER:
            try:
                await self.client.delete("persistentvolumes", "", name)
            except errors.NotFound:
                pass
            return DONE
        msg = (f'error getting deleter volume plugin for volume "{name}": no deletable volume '
               "plugin matched")
        self.recorder.record(obj, events.WARNING, "VolumeFailedDelete", msg)
        await self.actions.volume_phase(obj, "Failed", msg)
        return DONE
