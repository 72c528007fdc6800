"""How the agent wires its images: the GC thresholds flags, the Pulling/Pulled facts the
images adapter hands the pod worker, the status codes of image failures."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent.adapters.images import ImagesAdapter
from agent.config import parse_args
from agent.images import errors as ie
from agent.images.progress import Progress
from agent.server import image_status

ARGS = ["--server", "127.0.0.1:6445", "--node-ip", "127.0.0.1", "--insecure",
        "--listen", "127.0.0.1:0"]


def test_gc_threshold_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = parse_args([*ARGS, "--data-dir", str(tmp_path)])
    assert (cfg.image_gc_high, cfg.image_gc_low) == (85.0, 80.0)
    cfg = parse_args([*ARGS, "--data-dir", str(tmp_path), "--image-gc-high-threshold", "90",
                      "--image-gc-low-threshold", "70"])
    assert (cfg.image_gc_high, cfg.image_gc_low) == (90.0, 70.0)
    with pytest.raises(SystemExit):
        parse_args([*ARGS, "--data-dir", str(tmp_path), "--image-gc-low-threshold", "95"])
    assert "image GC thresholds" in capsys.readouterr().err


class Svc:
    """ImageService.ensure's contract: progress events only when it pulls."""

    def __init__(self, pulls: bool, error: Exception | None = None) -> None:
        self.pulls, self.error = pulls, error

    def ensure(self, ref: str, policy: str, progress: Any = None, credentials: Any = ()) -> Any:
        if self.error is not None:
            raise self.error
        if self.pulls:
            progress(Progress("", "Resolving"))
            progress(Progress("sha256:x", "Done", 5, 5))

        class Cfg:
            entrypoint: list[str] = []
            cmd = ["sh"]
            env: list[str] = []
            working_dir = user = stop_signal = ""

        class Img:
            reference, id, layer_dirs, size, config = ref, "sha256:id", ["/l"], 1234, Cfg()
        return Img()


def ensure(svc: Svc, tmp_path: Path) -> tuple[Any, list[str]]:
    seen: list[str] = []

    async def go() -> Any:
        loop = asyncio.get_running_loop()
        info = await ImagesAdapter(svc, str(tmp_path)).ensure(
            "x", "Always", lambda: seen.append("pulling"))
        # on_pulling is queued onto the loop from the pulling thread, before ensure
        # returned: once a callback queued after it has run, it has run too
        flushed = loop.create_future()
        loop.call_soon_threadsafe(flushed.set_result, None)
        await flushed
        return info
    return asyncio.run(go()), seen


def test_ensure_says_whether_it_pulled_and_the_size(tmp_path: Path) -> None:
    info, seen = ensure(Svc(pulls=True), tmp_path)
    assert seen == ["pulling"] and info.pull_seconds >= 0 and info.size_bytes == 1234
    info, seen = ensure(Svc(pulls=False), tmp_path)
    assert seen == [] and info.pull_seconds == -1 and info.size_bytes == 1234


@pytest.mark.parametrize("error,code", [
    (ie.Unauthorized("registry refused: unauthorized"), grpc.StatusCode.PERMISSION_DENIED),
    (ie.NotFound("manifest unknown"), grpc.StatusCode.NOT_FOUND),
    (ie.ImageNotPresent("not on this node"), grpc.StatusCode.NOT_FOUND),
    (ie.InvalidReference("bad name"), grpc.StatusCode.INVALID_ARGUMENT),
    (ie.InvalidArchive("not a tar"), grpc.StatusCode.INVALID_ARGUMENT),
    (ie.Unavailable("registry down"), grpc.StatusCode.FAILED_PRECONDITION),
    (ie.DigestMismatch("wrong digest"), grpc.StatusCode.FAILED_PRECONDITION),
])
def test_image_failures_map_to_status_codes(tmp_path: Path, error: Exception,
                                            code: grpc.StatusCode) -> None:
    with pytest.raises(Exception) as e:
        ensure(Svc(pulls=True, error=error), tmp_path)
    assert image_status(e.value) == code and str(error) in str(e.value)
