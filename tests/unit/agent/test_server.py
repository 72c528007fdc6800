"""The Agent gRPC service over fakes: logs (tail, previous, all containers), stats, images."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent import logs
from agent.podsync.manager import PodManager
from agent.podsync.worker import PodWorker
from agent.server import AgentService, serve
from proto import agent_pb2, agent_pb2_grpc, core_pb2

from .conftest import Env
from .fakes import make_pod

T0 = 1_700_000_000.0


def _log(path: Path, *lines: str) -> None:
    with open(path, "ab") as f:
        for i, line in enumerate(lines):
            f.write(f"{logs.format_timestamp(T0 + i)} stdout F {line}\n".encode())


def test_logs_stats_images(env: Env, tmp_path: Path) -> None:
    pod = make_pod(containers=[core_pb2.Container(name="a", image="busybox", command=["x"]),
                               core_pb2.Container(name="b", image="busybox", command=["y"])])

    async def go() -> None:
        m = PodManager(env.ctx)
        w = PodWorker(env.ctx, pod)
        m.workers[w.uid] = w
        await w.sync_once()
        a1, b1 = sorted(env.runtime.running(), key=lambda c: c.name)
        a1.log_path, b1.log_path = str(tmp_path / "a1.log"), str(tmp_path / "b1.log")
        _log(tmp_path / "a1.log", "a-one", "a-two")
        _log(tmp_path / "b1.log", "b-one")
        env.runtime.exit(a1.id, 1)
        await w.sync_once()                     # a restarted: a1 is the previous instance
        a2 = next(c for c in env.runtime.running() if c.name == "a")
        a2.log_path = str(tmp_path / "a2.log")
        _log(tmp_path / "a2.log", "a-three", "a-four", "a-five")

        server, port = await serve(AgentService("n1", m, env.runtime, env.images, 2000),
                                   "127.0.0.1:0")
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = agent_pb2_grpc.AgentStub(ch)

                async def text(**kw: Any) -> bytes:
                    req = agent_pb2.LogsRequest(namespace="default", pod="web", **kw)
                    return b"".join([c.data async for c in stub.Logs(req)])

                assert await text(container="a") == b"a-three\na-four\na-five\n"
                assert await text(container="a", tail_lines=1) == b"a-five\n"
                assert await text(container="a", previous=True) == b"a-one\na-two\n"
                assert await text(all_containers=True) == b"a-three\na-four\na-five\nb-one\n"
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await text()
                assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "choose one of: [a b]" in (e.value.details() or "")
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await text(container="b", previous=True)
                assert e.value.code() == grpc.StatusCode.NOT_FOUND
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await text(container="zz")
                assert e.value.code() == grpc.StatusCode.NOT_FOUND

                st = await stub.Stats(agent_pb2.StatsRequest())
                assert [p.name for p in st.pods] == ["web"]
                assert sorted(c.name for c in st.pods[0].containers) == ["a", "b"]
                assert st.node.name == "n1" and st.node.cpu_capacity_cores == 2
                imgs = await stub.ListImages(agent_pb2.ListImagesRequest())
                assert [i.names[0] for i in imgs.images] == ["busybox"]
        finally:
            await server.stop(None)

    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(go(), 30))
