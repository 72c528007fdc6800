"""The Build call's node-side context cap (corral-agent --max-build-context-size): a
context over it is refused (INVALID_ARGUMENT) before anything is unpacked or built,
whether the client says so up front or sends more than it said."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent.buildrpc import DEFAULT_MAX_CONTEXT, BuildCalls
from agent.config import parse_args
from proto import build_pb2

ARGS = ["--server", "127.0.0.1:6443", "--node-ip", "127.0.0.1", "--insecure",
        "--listen", "127.0.0.1:0"]


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


class Context:
    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)


class Images:
    closed = False

    async def close(self) -> None:
        self.closed = True


class Backend:
    """Nothing may be built: the cap refuses first."""

    runner: Any = None
    platform = ("linux", "amd64", "")

    def __init__(self) -> None:
        self.images = Images()

    def open_images(self) -> Images:
        return self.images

    def save(self, refs: list[str]) -> AsyncIterator[bytes]:
        raise AssertionError("not called")


async def _inputs(size_said: int, sent: int) -> AsyncIterator[build_pb2.BuildInput]:
    yield build_pb2.BuildInput(spec=build_pb2.BuildSpec(
        tags=["x:1"], dockerfile=b"FROM scratch\n", context_size=size_said))
    for _ in range(sent // 100):
        yield build_pb2.BuildInput(context=b"\0" * 100)


@pytest.mark.parametrize("said, sent", [(5000, 0), (100, 5000)])
def test_a_context_over_the_cap_is_refused(tmp_path: Path, said: int, sent: int) -> None:
    backend = Backend()
    calls = BuildCalls(backend, str(tmp_path), max_context=1000)   # type: ignore[arg-type]

    async def go() -> list[build_pb2.BuildEvent]:
        return [e async for e in calls.build(_inputs(said, sent), Context())]  # type: ignore[arg-type]
    with pytest.raises(Aborted) as e:
        asyncio.run(go())
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "1000" in e.value.details and "build context" in e.value.details
    assert backend.images.closed
    assert list((tmp_path / "build" / "work").iterdir()) == []      # nothing left


def test_the_agent_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args([*ARGS, "--data-dir", str(tmp_path)]).max_build_context == \
        DEFAULT_MAX_CONTEXT == 1 << 30
    cfg = parse_args([*ARGS, "--data-dir", str(tmp_path), "--max-build-context-size", "64Mi"])
    assert cfg.max_build_context == 64 << 20
    for bad in ("lots", "0"):
        with pytest.raises(SystemExit):
            parse_args([*ARGS, "--data-dir", str(tmp_path), "--max-build-context-size", bad])
        assert "--max-build-context-size" in capsys.readouterr().err
