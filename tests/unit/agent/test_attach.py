"""The agent's Attach RPC over fakes: the first message, a relayed session, its errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from agent import logs
from agent.podsync.manager import PodManager
from agent.podsync.worker import PodWorker
from agent.server import AgentService, serve
from proto import agent_pb2, agent_pb2_grpc, core_pb2

from .conftest import Env
from .fakes import make_pod


class EchoSession:
    """A container that echoes its stdin in capitals and exits 7 at the end of it."""

    def __init__(self) -> None:
        self.out: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self.resizes: list[tuple[int, int]] = []
        self.closed = False

    async def write(self, data: bytes) -> None:
        await self.out.put(("stdout", data.upper()))

    async def close_stdin(self) -> None:
        await self.out.put(None)

    async def resize(self, width: int, height: int) -> None:
        self.resizes.append((width, height))

    async def read(self) -> tuple[str, bytes] | None:
        return await self.out.get()

    def exit_code(self) -> int | None:
        return 7

    async def close(self) -> None:
        self.closed = True


def test_attach_relays_stdin_resizes_and_the_exit_code(env: Env) -> None:
    pod = make_pod(containers=[core_pb2.Container(name="a", image="busybox", command=["x"],
                                                  stdin=True)])
    session = EchoSession()
    opened: list[tuple[str, bool, int, int]] = []

    async def attach_session(cid: str, stdin: bool, width: int,
                             height: int) -> EchoSession:
        opened.append((cid, stdin, width, height))
        return session

    env.runtime.attach_session = attach_session  # type: ignore[attr-defined]

    async def go() -> None:
        m = PodManager(env.ctx)
        w = PodWorker(env.ctx, pod)
        m.workers[w.uid] = w
        await w.sync_once()
        (running,) = env.runtime.running()
        server, port = await serve(AgentService("n1", m, env.runtime, env.images, 2000),
                                   "127.0.0.1:0")
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = agent_pb2_grpc.AgentStub(ch)

                async def inputs(*msgs: agent_pb2.AttachInput
                                 ) -> AsyncIterator[agent_pb2.AttachInput]:
                    for msg in msgs:
                        yield msg

                start = agent_pb2.AttachStart(namespace="default", pod="web", stdin=True,
                                              size=agent_pb2.TerminalSize(width=80, height=24))
                outs = [o async for o in stub.Attach(inputs(
                    agent_pb2.AttachInput(start=start), agent_pb2.AttachInput(stdin=b"hi\n"),
                    agent_pb2.AttachInput(resize=agent_pb2.TerminalSize(width=100, height=30)),
                    agent_pb2.AttachInput(close_stdin=True)))]
                assert [o.stdout for o in outs[:-1]] == [b"HI\n"]
                assert outs[-1].exit.exit_code == 7
                assert opened == [(running.id, True, 80, 24)]
                assert session.resizes == [(100, 30)] and session.closed

                with pytest.raises(grpc.aio.AioRpcError) as e:
                    _ = [o async for o in stub.Attach(inputs(
                        agent_pb2.AttachInput(stdin=b"x")))]
                assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                env.runtime.exit(running.id, 0)
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    _ = [o async for o in stub.Attach(inputs(agent_pb2.AttachInput(start=start)))]
                assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert "is not running" in (e.value.details() or "")
        finally:
            await server.stop(None)

    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(go(), 30))


def test_a_container_without_stdin_or_tty_shows_its_new_log_lines(env: Env,
                                                                  tmp_path: Path) -> None:
    pod = make_pod(containers=[core_pb2.Container(name="a", image="busybox", command=["x"])])

    async def no_socket(cid: str, stdin: bool, width: int, height: int) -> None:
        return None

    env.runtime.attach_session = no_socket  # type: ignore[attr-defined]

    def log(line: str) -> None:
        with open(tmp_path / "a.log", "ab") as f:
            f.write(f"{logs.format_timestamp(1.7e9)} stdout F {line}\n".encode())

    async def go() -> None:
        m = PodManager(env.ctx)
        w = PodWorker(env.ctx, pod)
        m.workers[w.uid] = w
        await w.sync_once()
        (running,) = env.runtime.running()
        running.log_path = str(tmp_path / "a.log")
        log("before the attach")
        server, port = await serve(AgentService("n1", m, env.runtime, env.images, 2000),
                                   "127.0.0.1:0")
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = agent_pb2_grpc.AgentStub(ch)
                call = stub.Attach()
                await call.write(agent_pb2.AttachInput(start=agent_pb2.AttachStart(
                    namespace="default", pod="web")))
                done = asyncio.Event()

                async def keep_logging() -> None:    # until the attach shows a line
                    n = 0
                    while not done.is_set():
                        log(f"line {n}")
                        n += 1
                        await asyncio.sleep(0.05)

                writer = asyncio.ensure_future(keep_logging())
                first = await call.read()
                done.set()
                await writer
                env.runtime.exit(running.id, 2)
                outs = [first]
                while not outs[-1].HasField("exit"):
                    outs.append(await call.read())
                assert outs[-1].exit.exit_code == 2
                shown = b"".join(o.stdout for o in outs)
                assert shown.startswith(b"line ") and b"before" not in shown
                assert await call.read() == grpc.aio.EOF
        finally:
            await server.stop(None)

    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(go(), 30))


def test_the_pod_workers_pass_stdin_stdin_once_and_tty_to_the_runtime(env: Env) -> None:
    pod = make_pod(containers=[
        core_pb2.Container(name="a", image="busybox", command=["x"], stdin=True,
                           stdin_once=True, tty=True),
        core_pb2.Container(name="b", image="busybox", command=["y"])])

    async def go() -> None:
        await PodWorker(env.ctx, pod).sync_once()

    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(go(), 30))
    specs = {s.name: s for s in env.runtime.specs.values()}
    assert (specs["a"].stdin, specs["a"].stdin_once, specs["a"].tty) == (True, True, True)
    assert (specs["b"].stdin, specs["b"].stdin_once, specs["b"].tty) == (False, False, False)
