"""What a container is started with: the prestart hooks fill a ContainerSetup
(env, mounts, files, user, security), then the ContainerSpec for the runtime
port is made from it (argv, resources, identity and attempt)."""

from __future__ import annotations

import asyncio
import os

from agent import status as st
from agent.podsync.env import DEFAULT_PATH, argv_for
from agent.podsync.hook import ContainerSetup, FileSpec, Hooks, NotReady
from agent.podsync.run import PodRun
from agent.ports import ContainerInfo, ContainerSpec, ImageInfo, MountSpec
from common.files import write_atomic
from proto import core_pb2
from proto.quantity import QuantityError, cpu_millis, to_bytes

FILES_VOLUME = "corral.files"     # not a DNS label: no pod volume can have this name


class SpecBuilder:
    def __init__(self, run: PodRun, hooks: Hooks) -> None:
        self.run = run
        self.hooks = hooks

    async def build(self, c: core_pb2.Container, image: ImageInfo,
                    latest: ContainerInfo | None, init: bool) -> ContainerSpec | NotReady:
        run = self.run
        setup = ContainerSetup(container=c, image=image, init=init, user=image.user)
        for kv in image.env:
            k, _, v = kv.partition("=")
            setup.env[k] = v
        for hook in self.hooks.prestart:
            not_ready = await hook.prestart(run, setup)
            if not_ready is not None:
                return not_ready
        setup.env.setdefault("HOSTNAME", run.pod.spec.hostname or run.pod.metadata.name)
        setup.env.setdefault("PATH", DEFAULT_PATH)
        try:
            argv = argv_for(c, image, setup.env)
            lim, req = c.resources.limits, c.resources.requests
            cpu_limit = cpu_millis(lim["cpu"]) if "cpu" in lim else 0
            cpu_request = cpu_millis(req["cpu"]) if "cpu" in req else 0
            memory = to_bytes(lim["memory"]) if "memory" in lim else 0
            if setup.files:
                setup.mounts.extend(await self._write_files(c.name, setup.files))
        except (OSError, ValueError, QuantityError) as e:
            return NotReady(st.CREATE_CONTAINER_ERROR, str(e))
        restarts = run.record.restart_counts.get(c.name, 0) + (1 if latest else 0)
        return ContainerSpec(
            pod_uid=run.uid, namespace=run.pod.metadata.namespace,
            pod_name=run.pod.metadata.name, name=c.name,
            attempt=max(restarts, (latest.attempt + 1) if latest else 0), image=c.image,
            image_id=image.id, layer_dirs=list(image.layer_dirs), argv=argv,
            env=list(setup.env.items()), working_dir=c.working_dir or image.working_dir,
            user=setup.user, stop_signal=image.stop_signal, cpu_millis=cpu_limit,
            cpu_request_millis=cpu_request, memory_bytes=memory, tty=c.tty, stdin=c.stdin,
            stdin_once=c.stdin_once, netns_path=run.netns_path,
            hostname=run.pod.spec.hostname or run.pod.metadata.name,
            mounts=setup.mounts, security=setup.security)

    async def _write_files(self, container: str, files: dict[str, FileSpec]) -> list[MountSpec]:
        """The hooks' files under the pod's files directory, one tree per container."""
        base = await self.run.ctx.runtime.volume_dir(self.run.uid, FILES_VOLUME, "", 0)
        out, writes = [], []
        for path, spec in files.items():
            norm = os.path.normpath(path)
            if not norm.startswith("/") or ".." in norm.split("/"):
                raise ValueError(f"file {path!r}: must be an absolute path in the container")
            host = os.path.join(base, container, norm.lstrip("/"))
            writes.append((host, spec))
            out.append(MountSpec(norm, host, spec.read_only))
        if writes:
            await asyncio.to_thread(_write, writes)     # one trip to a thread for them all
        return out


def _write(writes: list[tuple[str, FileSpec]]) -> None:
    for host, spec in writes:
        os.makedirs(os.path.dirname(host), exist_ok=True)
        # rewritten at every start of the container: no fsync needed
        write_atomic(host, spec.data, mode=spec.mode, durable=False)
