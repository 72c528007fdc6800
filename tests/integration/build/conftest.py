"""Fixtures for the builder's integration tests: a real image store, a real Runtime for
RUN steps (namespaces, cgroups, overlayfs, seccomp), a busybox base image made offline.

`builder` gives a `Build` helper per test module: `b.run(dockerfile, files, ...)` builds
and returns the result and the events; teardown checks that no build container, sandbox
or cgroup is left."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.adapters.build import BuildBackendAdapter, BuildRunner, build_runtime
from agent.build.cache import BuildCache
from agent.build.dockerfile import parse
from agent.build.executor import Builder, BuildOptions, BuildResult
from agent.images import ImageService
from agent.images.__main__ import build_busybox
from agent.runtime.cgroups import CgroupManager
from agent.runtime.mountinfo import unmount_under
from tests.integration.runtime.conftest import SKIP, cgroup_paths

pytestmark = pytest.mark.root
BASE = "busybox:test"


@dataclass
class Events:
    steps: list[tuple[str, int, str, bool]] = field(default_factory=list)   # done steps
    output: bytearray = field(default_factory=bytearray)
    messages: list[str] = field(default_factory=list)

    async def step(self, stage: str, index: int, total: int, instruction: str, *,
                   cached: bool = False, done: bool = False, seconds: float = 0.0) -> None:
        if done:
            self.steps.append((stage, index, instruction, cached))

    async def log(self, data: bytes) -> None:
        self.output += data

    async def message(self, text: str) -> None:
        self.messages.append(text)

    def cached(self) -> list[str]:
        return [i for _, _, i, c in self.steps if c]

    def made(self) -> list[str]:
        return [i for _, _, i, c in self.steps if not c]


class Build:
    def __init__(self, data: Path, cgroup_root: str) -> None:
        self.data = data
        self.svc = ImageService(str(data))
        self.runtime = build_runtime(str(data), cgroup_root)
        self.backend = BuildBackendAdapter(self.svc, BuildRunner(self.runtime, None))
        self.cache = BuildCache(str(data / "build" / "cache"))
        (data / "build" / "work").mkdir(parents=True, exist_ok=True)

    def run(self, dockerfile: str, files: dict[str, str | bytes] | None = None,
            ctx: Path | None = None, **opts: object) -> tuple[BuildResult, Events]:
        ev = Events()
        if ctx is None:
            ctx = Path(tempfile.mkdtemp(prefix="ctx-", dir=self.data))
        for rel, content in (files or {}).items():
            p = ctx / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content)

        async def go() -> BuildResult:
            images = self.backend.open_images()
            try:
                b = Builder(images, self.backend.runner, self.cache,
                            str(self.data / "build" / "work"), ev, uuid.uuid4().hex[:8])
                o = BuildOptions(**{"tags": ["built:test"], **opts})  # type: ignore[arg-type]
                return await b.build(parse(dockerfile), str(ctx), o)
            finally:
                await images.close()
        try:
            return asyncio.run(go()), ev
        except BaseException as e:
            e.events = ev  # type: ignore[attr-defined]
            raise

    def leftovers(self) -> list[str]:
        left = [f"container {c.id}" for c in self.runtime.list()]
        left += [f"sandbox {p.name}" for p in self.runtime.pods_dir.iterdir()]
        left += [f"cgroup pod{p}" for p in self.runtime.cgroups.pods()]
        left += [f"work {p.name}" for p in (self.data / "build" / "work").iterdir()]
        return left


@pytest.fixture(scope="module")
def builder() -> Iterator[Build]:
    if SKIP:
        pytest.skip(SKIP)
    data = Path(tempfile.mkdtemp(prefix="corral-build-"))
    top = f"corral-test-build-{uuid.uuid4().hex[:8]}"
    cgroup_root = f"{top}/node1"
    try:
        root = data / "bbroot"
        build_busybox(str(root))
        b = Build(data, cgroup_root)
        b.svc.import_rootfs(str(root), BASE)
        shutil.rmtree(root)
        yield b
        assert b.leftovers() == []
    finally:
        CgroupManager(top).driver.remove(top)
        unmount_under(str(data))
        shutil.rmtree(data, ignore_errors=True)
        assert not cgroup_paths(top), "cgroup root could not be removed"
