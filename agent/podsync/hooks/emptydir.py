"""Volume source: emptyDir, a directory of the pod's sandbox (tmpfs for
medium Memory) that lives as long as the pod; its sizeLimit on disk is
enforced by eviction (agent/podsync/emptydir.py reads `run.volume_paths`)."""

from __future__ import annotations

from agent.podsync.hook import NotReady
from agent.podsync.run import PodRun
from agent.ports import ContainerRuntimePort
from proto import core_pb2
from proto.quantity import to_bytes


class EmptyDirVolume:
    name = "emptyDir"

    def __init__(self, runtime: ContainerRuntimePort) -> None:
        self.runtime = runtime

    async def directory(self, run: PodRun, volume: core_pb2.Volume) -> str | NotReady:
        ed = volume.empty_dir
        size = to_bytes(ed.size_limit) if ed.size_limit else 0
        path = await self.runtime.volume_dir(run.uid, volume.name, ed.medium, size)
        run.volume_paths[volume.name] = path
        return path
