"""Hook: a container's volumeMounts, bound from the directories the volume
sources make (`Hooks.volumes`, by the Volume's source field), with subPath."""

from __future__ import annotations

import os

from agent import status as st
from agent.podsync.hook import (
    READ_ONLY_SOURCES,
    ContainerSetup,
    NotReady,
    VolumeSource,
    volume_source,
)
from agent.podsync.run import PodRun
from agent.ports import MountSpec


class VolumeMountsHook:
    name = "volumemounts"

    def __init__(self, sources: dict[str, VolumeSource]) -> None:
        self.sources = sources

    async def prestart(self, run: PodRun, setup: ContainerSetup) -> NotReady | None:
        volumes = {v.name: v for v in run.pod.spec.volumes}
        for vm in setup.container.volume_mounts:
            vol = volumes.get(vm.name)
            if vol is None:
                return NotReady(st.CREATE_CONTAINER_ERROR,
                                f"volumeMounts: volume {vm.name!r} is not in spec.volumes")
            kind = volume_source(vol)
            source = self.sources.get(kind)
            if source is None:
                camel = "".join(w.capitalize() if i else w
                                for i, w in enumerate(kind.split("_")))
                return NotReady(st.CREATE_CONTAINER_ERROR,
                                f"volume {vol.name!r}: {camel} volumes are not supported "
                                "on this node")
            try:
                host = await source.directory(run, vol)
            except (OSError, ValueError) as e:
                return NotReady(st.CREATE_CONTAINER_ERROR, str(e))
            if isinstance(host, NotReady):
                return host
            if vm.sub_path:
                sub = os.path.normpath(vm.sub_path)
                if sub.startswith("..") or os.path.isabs(sub):
                    return NotReady(st.CREATE_CONTAINER_ERROR,
                                    f"volumeMounts[{vm.name}].subPath {vm.sub_path!r} "
                                    "must be a relative path inside the volume")
                host = os.path.join(host, sub)
                try:
                    if not os.path.exists(host):
                        os.makedirs(host, exist_ok=True)
                except OSError as e:
                    return NotReady(st.CREATE_CONTAINER_ERROR, str(e))
            read_only = vm.read_only or kind in READ_ONLY_SOURCES or (
                vol.HasField("persistent_volume_claim") and vol.persistent_volume_claim.read_only)
            setup.mounts.append(MountSpec(vm.mount_path, host, read_only))
        return None
