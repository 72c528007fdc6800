"""Hook and volume source: configMap, secret, projected and downwardAPI volumes.

prerun: tell the node's ConfigObjects which ConfigMaps and Secrets the pod uses
(its worker is woken when one changes), wait until the node has read them all
(ContainerCreating), then make or refresh every configMap, secret, projected or
downwardAPI volume:
project its files (agent/podsync/configdata/projection.py) and write them with the
atomic `..data` swap (atomicwriter.py). Until a volume has been written once, a
missing object or key holds the pod in ContainerCreating with a FailedMount event,
as the kubelet does; afterwards a failure keeps the last content (and reports
the event once). Secret, projected and downwardAPI volumes are tmpfs.
directory: the volume's directory (made by prerun).
destroy: stop watching what the pod used (the sandbox removes the directories).
"""

from __future__ import annotations

import asyncio

from agent import status as st
from agent.podsync.configdata.atomicwriter import PayloadError, write_payload
from agent.podsync.configdata.objects import ConfigObjects, NotSynced
from agent.podsync.configdata.projection import Missing, on_tmpfs, project
from agent.podsync.env import FieldRefError
from agent.podsync.events import WARNING
from agent.podsync.hook import READ_ONLY_SOURCES, NotReady, volume_source
from agent.podsync.run import PodRun
from agent.ports import ContainerRuntimePort
from proto import config_pb2, core_pb2, podrefs
from proto.quantity import QuantityError

NOT_SYNCED_RETRY = 1.0


def is_config_volume(v: core_pb2.Volume) -> bool:
    return volume_source(v) in READ_ONLY_SOURCES


class ConfigVolumes:
    name = "configvolumes"

    def __init__(self, runtime: ContainerRuntimePort, objects: ConfigObjects) -> None:
        self.runtime = runtime
        self.objects = objects
        self.paths: dict[str, str] = {}          # volume name -> its directory, once written
        self.reported: dict[str, str] = {}       # volume name -> the failure last reported

    async def prerun(self, run: PodRun) -> NotReady | None:
        pod = run.pod
        self.objects.use(run.uid, pod.metadata.namespace, podrefs.referenced(pod.spec),
                         run.wake)
        unread = self.objects.unread(run.uid)
        if unread:       # woken when they are read; containers already running go on
            what = ", ".join(f"{r[:-1]} {ns}/{n}" for r, ns, n in unread)
            return NotReady(st.CONTAINER_CREATING, f"reading {what}",
                            retry_after=NOT_SYNCED_RETRY, keep_status=True)
        for v in pod.spec.volumes:
            if is_config_volume(v):
                not_ready = await self._sync(run, v)
                if not_ready is not None:
                    return not_ready
        return None

    async def directory(self, run: PodRun, volume: core_pb2.Volume) -> str | NotReady:
        path = self.paths.get(volume.name)
        if path is not None:
            return path
        return await self._sync(run, volume) or self.paths[volume.name]

    async def destroy(self, run: PodRun) -> None:
        self.objects.release(run.uid)

    async def _sync(self, run: PodRun, v: core_pb2.Volume) -> NotReady | None:
        ns = run.pod.metadata.namespace

        def lookup(resource: str, name: str) -> config_pb2.ConfigMap | config_pb2.Secret | None:
            return self.objects.lookup(resource, ns, name)

        first = v.name not in self.paths
        try:
            files = project(run.pod, v, lookup)
        except NotSynced as e:
            if not first:
                return None          # the last content stays while the object is read
            return NotReady(st.CONTAINER_CREATING, f"waiting for volume {v.name!r}: {e}",
                            retry_after=NOT_SYNCED_RETRY)
        except (Missing, FieldRefError, QuantityError) as e:
            return self._failed(run, v, str(e), first)
        try:
            path = self.paths.get(v.name) or await self.runtime.volume_dir(
                run.uid, v.name, "Memory" if on_tmpfs(v) else "", 0)
            fs_group = run.pod.spec.security_context.fs_group \
                if run.pod.spec.security_context.HasField("fs_group") else None
            await asyncio.to_thread(write_payload, path, files, fs_group)
        except (OSError, PayloadError) as e:
            return self._failed(run, v, str(e), first)
        self.paths[v.name] = path
        self.reported.pop(v.name, None)
        return None

    def _failed(self, run: PodRun, v: core_pb2.Volume, why: str, first: bool) -> NotReady | None:
        msg = f'MountVolume.SetUp failed for volume "{v.name}" : {why}'
        if self.reported.get(v.name) != msg:
            self.reported[v.name] = msg
            run.event(WARNING, "FailedMount", msg)
            run.log.warning("pod %s: %s", run.key, msg)
        if not first:
            return None              # a running pod keeps what it had
        return NotReady(st.CONTAINER_CREATING, msg)
