"""The builder's ports (agent/build/ports.py) onto agent/images and agent/runtime.

RUN steps run in a Runtime of their own (state under <data>/build/runtime,
cgroups under <cgroup root>/build), so the pod workers never see a build's
containers and a build never sees theirs. Each step gets a sandbox of its own
(a fresh network namespace with only loopback, or with --network=cluster a
pod address from the node's network) and one container, hardened like a pod's
(default capabilities, seccomp RuntimeDefault, no_new_privs, a memory and pids
limit). Leaving the run stops and removes both, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agent import logs
from agent.adapters.pool import run_blocking
from agent.adapters.runtime import resolve_user
from agent.build.errors import BaseImageError, BuildError, StepFailed
from agent.build.ports import BaseImage, Layer, RunHandle, RunSpec
from agent.ports import NetworkPort

DEFAULT_BUILD_MEMORY = 2 << 30


def _layer(la: Any) -> Layer:
    return Layer(la.diff_id, la.digest, la.size, la.media_type, la.dir)


class BuildImages:
    """ImageStorePort over agent.images.buildstore.BuildSession (one per build)."""

    def __init__(self, svc: Any) -> None:
        from agent.images.buildstore import BuildSession
        self.svc = svc
        self.session = BuildSession(svc)

    async def base(self, ref: str) -> BaseImage:
        from agent.images.errors import ImageError
        try:
            b = await run_blocking(self.session.base, ref)
        except ImageError as e:
            raise BaseImageError(f"base image {ref}: {e}") from None
        return BaseImage(b.reference, b.id, [_layer(la) for la in b.layers], b.config)

    async def layer_of_dir(self, root: str) -> Layer:
        from agent.images.errors import ImageError
        try:
            return _layer(await run_blocking(self.session.layer_of_dir, root))
        except ImageError as e:
            raise BuildError(f"storing a layer: {e}") from None

    async def find_layer(self, diff_id: str, digest: str, media_type: str) -> Layer | None:
        la = await run_blocking(self.session.find_layer, diff_id, digest, media_type)
        return None if la is None else _layer(la)

    async def commit(self, layers: list[Layer], config: bytes,
                     names: list[str]) -> tuple[str, str, list[str]]:
        from agent.images.buildstore import StoredLayer
        from agent.images.errors import ImageError
        stored = [StoredLayer(la.diff_id, la.digest, la.size, la.media_type, la.dir)
                  for la in layers]
        try:
            image_id, mdigest, refs = await run_blocking(self.session.commit, stored, config,
                                                         names)
        except ImageError as e:
            raise BuildError(f"storing the image: {e}") from None
        return image_id, mdigest, list(refs)

    async def push(self, ref: str) -> AsyncIterator[str]:
        from agent.images.errors import ImageError
        target = self.session.push_target(ref)
        yield f"pushing {ref} to {target}"
        try:
            digest = await run_blocking(self.session.push, ref, target)
        except ImageError as e:
            raise BuildError(f"push {target}: {e}") from None
        yield f"{target}@{digest}"

    async def close(self) -> None:
        self.session.close()


class _Run:
    def __init__(self, runtime: Any, cid: str, upper: str) -> None:
        self.runtime, self.cid, self.upper_dir = runtime, cid, upper
        self._exit: int | None = None

    async def _finished(self) -> bool:
        info = await run_blocking(self.runtime.status, self.cid)
        if info.state == "exited":
            self._exit = info.exit_code if info.exit_code is not None else 255
            return True
        return False

    async def output(self) -> AsyncIterator[bytes]:
        info = await run_blocking(self.runtime.status, self.cid)
        async for e in logs.follow(str(info.log_path), None, None, self._finished, poll=0.05):
            yield e.data + (b"\n" if e.full else b"")

    async def wait(self) -> int:
        while self._exit is None and not await self._finished():
            pass
        return int(self._exit if self._exit is not None else 255)


class BuildRunner:
    """RunnerPort over a Runtime kept for builds."""

    def __init__(self, runtime: Any, network: NetworkPort | None,
                 memory_bytes: int = DEFAULT_BUILD_MEMORY) -> None:
        self.runtime = runtime
        self.network = network
        self.memory_bytes = memory_bytes

    @contextlib.asynccontextmanager
    async def run(self, spec: RunSpec) -> AsyncIterator[RunHandle]:
        from agent.runtime.errors import RuntimeError_
        from agent.runtime.model import ContainerConfig, Resources
        uid = f"build-{spec.build_id}-{secrets.token_hex(4)}"
        cid = secrets.token_hex(16)
        netns = None
        try:
            if spec.network == "cluster":
                if self.network is None or not self.network.ready():
                    raise BuildError("RUN --network=cluster: this node's pod network is not "
                                     "ready")
                netns = Path((await self.network.setup_pod(uid, "build", uid)).netns_path)
            await run_blocking(self.runtime.create_pod_sandbox, uid, spec.hostname, netns)
            try:
                user, group = resolve_user(spec.user, spec.layer_dirs)
            except ValueError as e:
                raise StepFailed("RUN", " ".join(spec.argv), 126, str(e)) from None
            cfg = ContainerConfig(
                id=cid, pod_uid=uid, name="run", pod_name=spec.hostname,
                lower_dirs=[Path(d) for d in reversed(spec.layer_dirs)], argv=list(spec.argv),
                env=dict(spec.env), working_dir=spec.working_dir or "/", user=user,
                group=group, resources=Resources(
                    memory_limit_bytes=spec.memory_bytes or self.memory_bytes))
            try:
                await run_blocking(self.runtime.start_container, cfg)
            except RuntimeError_ as e:
                raise StepFailed("RUN", " ".join(spec.argv), 127, str(e)) from None
            yield _Run(self.runtime, cid, str(self.runtime.state_dir / "containers" / cid
                                              / "upper"))
        finally:
            with contextlib.suppress(Exception):
                await run_blocking(self.runtime.remove, cid, 0)
            with contextlib.suppress(Exception):
                await run_blocking(self.runtime.remove_pod_sandbox, uid, 0)
            if netns is not None and self.network is not None:
                with contextlib.suppress(Exception):
                    await self.network.teardown_pod(uid)


def build_runtime(data_dir: str, cgroup_root: str) -> Any:
    """The Runtime for RUN steps, with what a crashed build left removed."""
    from agent.runtime.runtime import Runtime
    rt = Runtime(Path(data_dir) / "build" / "runtime", f"{cgroup_root}/build")
    rt.cleanup_orphans(set(), set())
    return rt


class BuildBackendAdapter:
    """BuildBackend over the node's ImageService and the build Runtime."""

    def __init__(self, svc: Any, runner: BuildRunner) -> None:
        self.svc = svc
        self.runner = runner
        p = svc.platform
        self.platform = (p.os, p.architecture, p.variant or "")

    def open_images(self) -> BuildImages:
        return BuildImages(self.svc)

    async def save(self, refs: list[str]) -> AsyncIterator[bytes]:
        import tempfile

        from agent.images.errors import ImageError
        with tempfile.TemporaryFile(dir=os.path.join(self.svc.root, "tmp")) as f:
            try:
                await run_blocking(self.svc.save, refs, f)
            except ImageError as e:
                raise BuildError(str(e)) from None
            await run_blocking(f.seek, 0)
            while data := await run_blocking(f.read, 1 << 20):
                yield data
