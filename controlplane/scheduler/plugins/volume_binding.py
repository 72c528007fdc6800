"""VolumeBinding: a pod's persistentVolumeClaim volumes (Kubernetes' VolumeBinding
plugin, filter and pre-bind).

Filter: every claim must exist and not be going; a bound claim's volume must admit
the node (a local volume pins its pod to its node: "node(s) had volume node affinity
conflict"); an unbound claim of a WaitForFirstConsumer class needs a fitting volume on
the node, or a class whose provisioner makes one anywhere (`local-path`); an unbound
claim of an Immediate class waits for its volume ("pod has unbound immediate
PersistentVolumeClaims").

Pre-bind: the chosen node is written on the pod's unbound WaitForFirstConsumer claims
(`volume.kubernetes.io/selected-node`); the volume controller provisions or binds
there, and the node's agent waits for the claim to be bound before it starts the pod.
Changes of claims, volumes and classes retry unschedulable pods.
"""

from __future__ import annotations

from controlplane import errors
from controlplane.informer import Handler
from controlplane.objects import copy_of
from controlplane.volumematch import (
    LOCAL_PATH_PROVISIONER,
    SELECTED_NODE,
    WAIT,
    best,
    default_class,
    node_admits,
)
from proto import api_pb2, core_pb2, storage_pb2

from ..framework import SUCCESS, CycleState, NodeInfo, PluginArgs, PodInfo, Status, handle_of

NAME = "VolumeBinding"
CONFLICT = "node(s) had volume node affinity conflict"
NO_VOLUME = "node(s) didn't find available persistent volumes to bind"
IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
OTHER_NODE = "node(s) didn't match the node selected for a volume claim"


def claim_names(pod: core_pb2.Pod) -> list[str]:
    return [v.persistent_volume_claim.claim_name for v in pod.spec.volumes
            if v.HasField("persistent_volume_claim")]


class VolumeBinding:
    name = NAME
    passes_clean_nodes = False

    def __init__(self, args: PluginArgs) -> None:
        handle = handle_of(args, NAME)
        self.client = handle.client
        inf = handle.informers
        self.claims = inf.informer("persistentvolumeclaims")
        self.volumes = inf.informer("persistentvolumes")
        self.classes = inf.informer("storageclasses")

        def changed(o: api_pb2.Object) -> None:
            handle.requeue()

        for i in (self.claims, self.volumes, self.classes):
            i.add_handler(Handler(changed, lambda o, n: None if o is n else changed(n), None))

    def relevant(self, pod: PodInfo) -> bool:
        return bool(claim_names(pod.pod))

    def _class(self, c: storage_pb2.PersistentVolumeClaim
               ) -> tuple[str, storage_pb2.StorageClass | None]:
        name = c.spec.storage_class_name if c.spec.HasField("storage_class_name") else \
            default_class(o.storage_class for o in self.classes.list())
        cls = self.classes.get(name) if name else None
        return name, cls.storage_class if cls is not None else None

    def filter(self, state: CycleState, pod: PodInfo, node_info: NodeInfo) -> Status:
        if not (self.claims.synced and self.volumes.synced and self.classes.synced):
            return Status.unschedulable("waiting for the volume caches", plugin=NAME)
        ns = pod.pod.metadata.namespace
        node = node_info.node
        for name in claim_names(pod.pod):
            obj = self.claims.get(f"{ns}/{name}")
            if obj is None:
                return Status.unresolvable(f'persistentvolumeclaim "{name}" not found',
                                           plugin=NAME)
            c = obj.persistent_volume_claim
            if c.metadata.HasField("deletion_timestamp"):
                return Status.unresolvable(f'persistentvolumeclaim "{name}" is being deleted',
                                           plugin=NAME)
            if c.spec.volume_name:
                pv = self.volumes.get(c.spec.volume_name)
                if pv is None:
                    return Status.unresolvable("pvc(s) bound to non-existent pv(s)", plugin=NAME)
                if not node_admits(pv.persistent_volume, node):
                    return Status.unresolvable(CONFLICT, plugin=NAME)
                continue
            cls_name, cls = self._class(c)
            if cls_name and cls is None:
                return Status.unresolvable(
                    f'storageclass.storage.k8s.io "{cls_name}" not found', plugin=NAME)
            if cls is None or cls.volume_binding_mode != WAIT:
                return Status.unresolvable(IMMEDIATE, plugin=NAME)
            selected = c.metadata.annotations.get(SELECTED_NODE, "")
            if selected and selected != node.metadata.name:
                return Status.unresolvable(OTHER_NODE, plugin=NAME)
            if cls.provisioner == LOCAL_PATH_PROVISIONER:
                continue
            claim = storage_pb2.PersistentVolumeClaim()
            claim.CopyFrom(c)
            claim.spec.storage_class_name = cls_name
            if best((o.persistent_volume for o in self.volumes.list()), claim, node) is None:
                return Status.unresolvable(NO_VOLUME, plugin=NAME)
        return SUCCESS

    async def prebind(self, pod: PodInfo, node: str) -> Status:
        ns = pod.pod.metadata.namespace
        for name in claim_names(pod.pod):
            cached = self.claims.get(f"{ns}/{name}")
            if cached is None or cached.persistent_volume_claim.spec.volume_name:
                continue
            _, cls = self._class(cached.persistent_volume_claim)
            if cls is None or cls.volume_binding_mode != WAIT:
                continue
            for _ in range(3):
                try:
                    cur = await self.client.get("persistentvolumeclaims", ns, name)
                except errors.NotFound:
                    return Status.unschedulable(f'persistentvolumeclaim "{name}" not found',
                                                plugin=NAME)
                c = cur.persistent_volume_claim
                selected = c.metadata.annotations.get(SELECTED_NODE, "")
                if c.spec.volume_name or selected == node:
                    break
                if selected:
                    return Status.unschedulable(OTHER_NODE, plugin=NAME)
                upd = copy_of(cur)
                upd.persistent_volume_claim.metadata.annotations[SELECTED_NODE] = node
                try:
                    await self.client.update(upd)
                    break
                except errors.Conflict:
                    continue
            else:
                return Status.unschedulable(f'persistentvolumeclaim "{name}" keeps changing',
                                            plugin=NAME)
        return SUCCESS


def factory(args: PluginArgs = None) -> VolumeBinding:
    return VolumeBinding(args)
