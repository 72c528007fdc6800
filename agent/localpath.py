"""The node's side of the built-in `local-path` volumes (the control plane's volume
controller provisions them: controlplane/controllers/volumes.py).

* The node says where its local volumes live: the Node annotation
  `corral.dev/local-path-root` (`--local-path-dir`, default <data-dir>/local-path).
* A pod that mounts such a volume makes its directory (hooks/pvc.py, hostPath type
  DirectoryOrCreate, mode 0777 like k3s' provisioner, so any user in a pod can write).
* When a provisioned volume pinned to this node is deleted (its claim went and the
  reclaim policy is Delete), `LocalPathCleaner` removes the directory, refusing any
  path outside the root, then the finalizer `corral.dev/local-path-cleanup` that held
  the volume; a volume deleted while the agent was down is cleaned at its next list.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil

from agent.backoff import RetryBackoff
from agent.config import AgentConfig
from agent.listwatch import list_watch
from agent.ports import ApiConflict, ApiNotFound, ApiPort
from proto import api_pb2, storage_pb2
from proto.labels import pinned_node

log = logging.getLogger("corral.agent.localpath")

ROOT_ANNOTATION = "corral.dev/local-path-root"
FINALIZER = "corral.dev/local-path-cleanup"
RETRY_SECONDS = 5.0


def root_of(cfg: AgentConfig) -> str:
    return cfg.local_path_dir or os.path.join(cfg.data_dir, "local-path")


def inside(root: str, path: str) -> bool:
    """`path` is a directory strictly below `root` (symlinks resolved)."""
    r, p = os.path.realpath(root), os.path.realpath(path)
    return p != r and os.path.commonpath([r, p]) == r


class LocalPathCleaner:
    def __init__(self, cfg: AgentConfig, api: ApiPort) -> None:
        self.cfg = cfg
        self.api = api
        self.root = root_of(cfg)
        self.failed: dict[str, storage_pb2.PersistentVolume] = {}
        self.removed: list[str] = []          # directories removed (tests look)

    async def run(self) -> None:
        retry = RetryBackoff(self.cfg.profile.api_retry_initial, self.cfg.profile.api_retry_max)
        again = asyncio.create_task(self._retry_failed())
        try:
            await list_watch(self.api, "persistentvolumes", self, retry, log)
        finally:
            again.cancel()

    async def on_list(self, items: api_pb2.ObjectList) -> None:
        for o in items.items:
            await self.look(o.persistent_volume)

    async def on_event(self, ev: api_pb2.WatchEvent) -> None:
        if ev.type != "DELETED":
            await self.look(ev.object.persistent_volume)

    async def _retry_failed(self) -> None:
        while True:
            await asyncio.sleep(RETRY_SECONDS)
            for pv in list(self.failed.values()):
                await self.look(pv)

    async def look(self, pv: storage_pb2.PersistentVolume) -> None:
        m = pv.metadata
        if not m.HasField("deletion_timestamp") or FINALIZER not in m.finalizers:
            return
        if pinned_node(pv.spec.node_affinity.required) != self.cfg.node_name:
            return
        path = pv.spec.host_path.path or pv.spec.local.path
        try:
            if path and inside(self.root, path):
                if os.path.lexists(path):
                    await asyncio.to_thread(shutil.rmtree, path)
                    self.removed.append(path)
                    log.info("volume %s: removed %s", m.name, path)
            else:
                log.warning("volume %s: not removing %r: it is not below %s", m.name, path,
                            self.root)
            await self._release(m.name)
            self.failed.pop(m.name, None)
        except (OSError, ApiConflict) as e:
            log.warning("volume %s: cleanup failed (%s); trying again", m.name, e)
            self.failed[m.name] = pv
        except ApiNotFound:
            self.failed.pop(m.name, None)

    async def _release(self, name: str) -> None:
        cur = await self.api.get("persistentvolumes", "", name)
        fins = list(cur.persistent_volume.metadata.finalizers)
        if FINALIZER not in fins:
            return
        fins.remove(FINALIZER)
        del cur.persistent_volume.metadata.finalizers[:]
        cur.persistent_volume.metadata.finalizers.extend(fins)
        await self.api.update(cur)
