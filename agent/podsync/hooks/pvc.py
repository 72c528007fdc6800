"""Volume source: persistentVolumeClaim, the directory of the volume bound to the claim.

The claim and its volume are read from the API once per pod (the node may read claims
and volumes). Until the claim is bound the container waits (ContainerCreating: the
control plane is still provisioning or binding); a volume pinned to another node never
mounts here. A hostPath volume is made as its type says (a local-path volume's
directory with mode 0777, as k3s does, so any user in the pod can write); a `local`
volume's directory must exist. `readOnly` on the claim source mounts it read-only
(hooks/volumemounts.py).
"""

from __future__ import annotations

import os

from agent import status as st
from agent.podsync.hook import NotReady
from agent.podsync.run import PodRun
from agent.ports import ApiNotFound, ApiPort, ApiUnavailable
from proto import core_pb2
from proto.labels import pinned_node

LOCAL_PATH_PROVISIONER = "corral.dev/local-path"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
RETRY = 1.0


class PersistentVolumeClaimVolume:
    name = "persistentVolumeClaim"

    def __init__(self, api: ApiPort, node_name: str) -> None:
        self.api = api
        self.node = node_name
        self.paths: dict[str, str] = {}     # volume name -> directory, once resolved

    def _wait(self, why: str) -> NotReady:
        return NotReady(st.CONTAINER_CREATING, why, retry_after=RETRY)

    async def directory(self, run: PodRun, volume: core_pb2.Volume) -> str | NotReady:
        if volume.name in self.paths:
            return self.paths[volume.name]
        claim = volume.persistent_volume_claim.claim_name
        ns = run.pod.metadata.namespace
        try:
            c = (await self.api.get("persistentvolumeclaims", ns, claim)).persistent_volume_claim
            if c.metadata.HasField("deletion_timestamp"):
                return self._wait(f'persistentvolumeclaim "{claim}" is being deleted')
            if not c.spec.volume_name or c.status.phase != "Bound":
                return self._wait(f'persistentvolumeclaim "{claim}" is not bound yet')
            pv = (await self.api.get("persistentvolumes", "", c.spec.volume_name)
                  ).persistent_volume
        except ApiNotFound as e:
            return self._wait(f'persistentvolumeclaim "{claim}": {e}')
        except ApiUnavailable as e:
            return self._wait(f"cannot read persistentvolumeclaim {claim!r}: {e}")
        pinned = pinned_node(pv.spec.node_affinity.required)
        if pinned and pinned != self.node:
            return NotReady(st.CREATE_CONTAINER_ERROR,
                            f'volume "{pv.metadata.name}" of claim "{claim}" is on node '
                            f'"{pinned}", not on "{self.node}"')
        path = pv.spec.host_path.path or pv.spec.local.path
        if not path:
            return NotReady(st.CREATE_CONTAINER_ERROR,
                            f'volume "{pv.metadata.name}": only hostPath and local volumes '
                            "mount on corral nodes")
        if pv.spec.HasField("local") or pv.spec.host_path.type == "Directory":
            if not os.path.isdir(path):
                return NotReady(st.CREATE_CONTAINER_ERROR,
                                f'volume "{pv.metadata.name}": {path} is not a directory')
        elif not os.path.isdir(path):
            mode = 0o777 if pv.metadata.annotations.get(PROVISIONED_BY) == \
                LOCAL_PATH_PROVISIONER else 0o755
            os.makedirs(path, exist_ok=True)
            os.chmod(path, mode)
        self.paths[volume.name] = path
        return path
