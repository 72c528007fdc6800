"""The Agent service's Build and SaveImage calls (proto/build.proto) over agent/build.

Build: the first message is the BuildSpec, then the context tar in pieces,
counted against the node's limit as they arrive (over it: the call fails
before anything is unpacked). The context is unpacked with every entry
checked (agent/build/sources.py) into a work directory that is removed when
the call ends, however it ends. The build's progress comes back as
BuildEvents; the last one is the result. Errors become status codes here and
only here:

    DockerfileError, ContextError     INVALID_ARGUMENT
    BaseImageError                    NOT_FOUND
    StepFailed, other BuildError      FAILED_PRECONDITION (the RUN output came first)

Leaving the call (the client went away) cancels the build: the running
step's container and sandbox are removed by the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator

import grpc

from agent.build.cache import BuildCache
from agent.build.dockerfile import parse
from agent.build.errors import BaseImageError, BuildError, ContextError, DockerfileError
from agent.build.ports import BuildBackend
from agent.config import DEFAULT_MAX_BUILD_CONTEXT
from proto import agent_pb2, build_pb2

log = logging.getLogger("corral.agent.build")

DEFAULT_MAX_CONTEXT = DEFAULT_MAX_BUILD_CONTEXT     # corral-agent --max-build-context-size


def _code(e: BuildError) -> grpc.StatusCode:
    if isinstance(e, DockerfileError | ContextError):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(e, BaseImageError):
        return grpc.StatusCode.NOT_FOUND
    return grpc.StatusCode.FAILED_PRECONDITION


class _Events:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[build_pb2.BuildEvent | None] = asyncio.Queue()

    async def step(self, stage: str, index: int, total: int, instruction: str, *,
                   cached: bool = False, done: bool = False, seconds: float = 0.0) -> None:
        await self.queue.put(build_pb2.BuildEvent(step=build_pb2.BuildStep(
            stage=stage, index=index, total=total, instruction=instruction, cached=cached,
            done=done, seconds=seconds)))

    async def log(self, data: bytes) -> None:
        await self.queue.put(build_pb2.BuildEvent(log=data))

    async def message(self, text: str) -> None:
        await self.queue.put(build_pb2.BuildEvent(message=text))


class BuildCalls:
    def __init__(self, backend: BuildBackend, data_dir: str,
                 max_context: int = DEFAULT_MAX_CONTEXT) -> None:
        self.backend = backend
        self.work_root = os.path.join(data_dir, "build", "work")
        self.cache = BuildCache(os.path.join(data_dir, "build", "cache"))
        self.max_context = max_context
        shutil.rmtree(self.work_root, ignore_errors=True)     # a crashed build's leftovers
        os.makedirs(self.work_root, mode=0o700, exist_ok=True)

    async def _receive(self, spec: build_pb2.BuildSpec,
                       rest: AsyncIterator[build_pb2.BuildInput], work: str) -> str:
        if spec.context_size > self.max_context:
            raise ContextError(f"the build context is {spec.context_size} bytes; this node "
                               f"takes at most {self.max_context}")
        tar_path = os.path.join(work, "context.tar")
        got = 0
        with open(tar_path, "wb") as f:
            async for msg in rest:
                if msg.WhichOneof("input") != "context":
                    raise ContextError("only the first message of a build may be the spec")
                got += len(msg.context)
                if got > self.max_context:
                    raise ContextError(f"the build context is over this node's limit of "
                                       f"{self.max_context} bytes")
                await asyncio.to_thread(f.write, msg.context)
        ctx = os.path.join(work, "context")
        os.mkdir(ctx, 0o755)
        if got:
            from agent.build.sources import unpack_context  # the builder: on first use

            def unpack() -> None:
                with open(tar_path, "rb") as f:
                    unpack_context(f, ctx)
            await asyncio.to_thread(unpack)
        os.unlink(tar_path)
        return ctx

    async def build(self, request_iterator: AsyncIterator[build_pb2.BuildInput],
                    context: grpc.aio.ServicerContext) -> AsyncIterator[build_pb2.BuildEvent]:
        it = aiter(request_iterator)
        first = await anext(it, None)
        if first is None or first.WhichOneof("input") != "spec":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                "the first message of Build must be the spec")
            return
        spec = first.spec
        if not spec.tags:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "build: no tag given (-t)")
        build_id = secrets.token_hex(6)
        work = tempfile.mkdtemp(prefix=f"{build_id}-", dir=self.work_root)
        images = self.backend.open_images()
        events = _Events()
        failure: BuildError | None = None
        try:
            ctx_dir = await self._receive(spec, it, work)
            from agent.build.executor import Builder, BuildOptions  # the builder: on first use
            df = parse(spec.dockerfile, spec.dockerfile_name or "Dockerfile")
            os_, arch, variant = self.backend.platform
            opts = BuildOptions(list(spec.tags), dict(spec.build_args), spec.target,
                                spec.no_cache, spec.network or "none", 0, os_, arch, variant)
            builder = Builder(images, self.backend.runner, self.cache, work, events, build_id)
            task = asyncio.create_task(builder.build(df, ctx_dir, opts))
            task.add_done_callback(lambda _: events.queue.put_nowait(None))
            try:
                while (ev := await events.queue.get()) is not None:
                    yield ev
                result = await task
            finally:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            pushed = []
            if spec.push:
                for name in result.names:
                    async for line in images.push(name):
                        yield build_pb2.BuildEvent(message=line)
                    pushed.append(line)
            yield build_pb2.BuildEvent(result=build_pb2.BuildResult(
                image_id=result.image_id, names=result.names,
                manifest_digest=result.manifest_digest, pushed=pushed))
        except BuildError as e:
            failure = e
        except OSError as e:           # the node's disk: full, read-only, ...
            failure = BuildError(f"build failed on the node: {e}")
        finally:
            await images.close()
            await asyncio.to_thread(shutil.rmtree, work, True)
        if failure is not None:
            log.info("build %s failed: %s", build_id, failure)
            await context.abort(_code(failure), str(failure))

    async def save(self, request: build_pb2.SaveImageRequest,
                   context: grpc.aio.ServicerContext) -> AsyncIterator[agent_pb2.LoadImageChunk]:
        if not request.images:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "save: no image given")
        try:
            async for data in self.backend.save(list(request.images)):
                yield agent_pb2.LoadImageChunk(data=data)
        except BuildError as e:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
