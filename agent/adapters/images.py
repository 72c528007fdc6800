"""The images port onto agent/images."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from agent.adapters.pool import POOL, run_blocking
from agent.ports import (
    ImageInfo,
    ImageNeverPullError,
    ImagePullError,
    ImageSummaryInfo,
    Progress,
)


def _image_info(svc: Any, img: Any) -> ImageInfo:
    c = img.config
    return ImageInfo(ref=img.reference, id=img.id, layer_dirs=list(img.layer_dirs),
                     entrypoint=list(c.entrypoint), cmd=list(c.cmd), env=list(c.env),
                     working_dir=c.working_dir, user=c.user, stop_signal=c.stop_signal)


def _kind(e: Exception) -> str:
    """What went wrong, for the Agent service's status code (agent/server.py)."""
    from agent.images import errors as ie
    if isinstance(e, ie.InvalidReference | ie.InvalidArchive | ie.UnsafeLayer | ie.Unsupported):
        return "invalid"
    if isinstance(e, ie.NotFound | ie.ImageNotPresent):
        return "not_found"
    if isinstance(e, ie.Unauthorized):
        return "denied"
    return "failed"      # the registry is down, content does not match its digest, ...


def _image_error(e: Exception) -> Exception:
    err = ImageNeverPullError(str(e)) if getattr(e, "reason", "") == "ErrImageNeverPull" \
        else ImagePullError(str(e))
    err.kind = _kind(e)   # type: ignore[attr-defined]
    return err


class ImagesAdapter:
    """ImagePort over agent.images.ImageService."""

    def __init__(self, service: Any, tmp_dir: str) -> None:
        self.svc = service
        self.tmp_dir = tmp_dir
        os.makedirs(tmp_dir, exist_ok=True)

    async def ensure(self, ref: str, pull_policy: str,
                     on_pulling: Callable[[], None] | None = None,
                     pull_secrets: Sequence[bytes] = ()) -> ImageInfo:
        from agent.images.errors import ImageError
        from agent.images.pullsecrets import credentials_of
        creds = credentials_of(pull_secrets)
        loop = asyncio.get_running_loop()
        started: list[float] = []

        def progress(p: Any) -> None:     # the pulling thread: the first event starts a pull
            if not started:
                started.append(time.monotonic())
                if on_pulling is not None:
                    loop.call_soon_threadsafe(on_pulling)

        try:
            img = await run_blocking(self.svc.ensure, ref, pull_policy, progress, creds)
        except ImageError as e:
            raise _image_error(e) from None
        info = _image_info(self.svc, img)
        info.size_bytes = int(img.size)
        if started:
            info.pull_seconds = time.monotonic() - started[0]
        return info

    async def list_images(self) -> list[ImageSummaryInfo]:
        out = []
        for img in await run_blocking(self.svc.list):
            created = 0.0
            if img.created:
                with contextlib.suppress(ValueError):
                    created = datetime.fromisoformat(img.created.replace("Z", "+00:00")
                                                     ).timestamp()
            out.append(ImageSummaryInfo([img.reference], img.id, int(img.size), created))
        return out

    async def _stream(self, fn: Callable[..., Any], *args: Any) -> AsyncIterator[Progress]:
        from agent.images.errors import ImageError
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[Progress | None] = asyncio.Queue()

        def cb(p: Any) -> None:
            loop.call_soon_threadsafe(q.put_nowait, Progress(
                getattr(p, "layer", ""), getattr(p, "status", ""),
                int(getattr(p, "current", 0)), int(getattr(p, "total", 0))))

        def work() -> None:
            try:
                fn(*args, progress=cb)
            finally:
                loop.call_soon_threadsafe(q.put_nowait, None)

        fut = loop.run_in_executor(POOL, work)
        while True:
            item = await q.get()
            if item is None:
                break
            yield item
        try:
            await fut
        except ImageError as e:
            raise _image_error(e) from None

    def pull(self, ref: str) -> AsyncIterator[Progress]:
        return self._stream(self.svc.pull, ref)

    def push(self, ref: str, target: str) -> AsyncIterator[Progress]:
        return self._stream(self.svc.push, ref, target or None)

    async def load(self, chunks: AsyncIterator[bytes]) -> list[str]:
        from agent.images.errors import ImageError
        fd, path = tempfile.mkstemp(prefix="load-", suffix=".tar", dir=self.tmp_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                async for c in chunks:
                    await run_blocking(f.write, c)
            try:
                names: list[str] = await run_blocking(self.svc.load_archive, path,
                                                      "sent to this node")
            except ImageError as e:
                raise _image_error(e) from None
            return names
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    async def prune(self, keep: set[str]) -> tuple[list[str], int]:
        removed, freed = await run_blocking(self.svc.prune, keep)
        return list(removed), int(freed)

    async def tag(self, source: str, target: str) -> str:
        from agent.images.errors import ImageError
        from agent.images.tagging import tag
        try:
            name: str = await run_blocking(tag, self.svc, source, target)
        except ImageError as e:
            raise _image_error(e) from None
        return name


# ---- network ----------------------------------------------------------------------------------
