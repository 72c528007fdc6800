"""Volume source: hostPath, a path of the node, checked (or made) as its
`type` says. Type "" (no check) makes a missing directory, as the container runtimes
under the kubelet do (Docker and containerd create a missing bind source)."""

from __future__ import annotations

import os

from agent import status as st
from agent.podsync.hook import NotReady
from agent.podsync.run import PodRun
from proto import core_pb2


class HostPathVolume:
    name = "hostPath"

    async def directory(self, run: PodRun, volume: core_pb2.Volume) -> str | NotReady:
        host, kind = volume.host_path.path, volume.host_path.type
        if kind in ("", "DirectoryOrCreate") and not os.path.exists(host):
            os.makedirs(host, mode=0o755, exist_ok=True)
        elif kind == "Directory" and not os.path.isdir(host):
            return NotReady(st.CREATE_CONTAINER_ERROR, f"hostPath {host} is not a directory")
        elif kind == "File" and not os.path.isfile(host):
            return NotReady(st.CREATE_CONTAINER_ERROR, f"hostPath {host} is not a file")
        return host
