"""The agent's `Attach` RPC (proto/agent.proto): a client joins a running container's
own stdin and output, like `kubectl attach` (no new process, unlike Exec).

A container with stdin or a tty is attached through its shim's attach socket
(agent/runtime/attach_hub.py): output as the container writes it, stdin to the
container, resizes to its pty; when the container exits while attached the last
message is its exit code. A container with neither has no socket: its output is
followed from its log (new lines only), which is all `attach` can show of it.
Only the control plane calls this (agent/security's ControlPlaneOnly guards every
method of the service). AgentService.Attach (agent/server.py) calls `attach`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from agent import logs
from agent.podlookup import PodLookup
from agent.ports import RUNNING, AttachSession, ContainerInfo, ExecSession
from proto import agent_pb2

log = logging.getLogger("corral.agent.attach")


async def attach(pods: PodLookup, request_iterator: AsyncIterator[agent_pb2.AttachInput],
                 context: grpc.aio.ServicerContext) -> AsyncIterator[agent_pb2.ExecOutput]:
    it = aiter(request_iterator)
    first = await anext(it, None)
    if first is None:
        return
    if first.WhichOneof("input") != "start":
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                            "the first message of Attach must be `start`")
    s = first.start
    w = await pods.worker(context, s.namespace, s.pod)
    (name,) = await pods.container_names(context, w, s.container, False)
    spec = next((c for c in [*w.pod.spec.containers, *w.pod.spec.init_containers]
                 if c.name == name), None)
    inst = await pods.instances(w.uid, name)
    if not inst or inst[0].state != RUNNING:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                            f'container "{name}" in pod "{s.pod}" is not running')
    target = inst[0]
    stdin = s.stdin and spec is not None and spec.stdin
    session = await pods.runtime.attach_session(target.id, stdin, s.size.width,
                                                s.size.height)
    if session is None:
        async for out in _follow_log(pods, target):
            yield out
        return
    pump = asyncio.ensure_future(pump_in(it, session))
    try:
        while (item := await session.read()) is not None:
            stream, data = item
            yield (agent_pb2.ExecOutput(stderr=data) if stream == "stderr"
                   else agent_pb2.ExecOutput(stdout=data))
        code = session.exit_code()
        if code is not None:
            yield agent_pb2.ExecOutput(exit=agent_pb2.ExecExit(exit_code=code))
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await session.close()       # detach: with stdinOnce the container's stdin closes


async def pump_in(it: AsyncIterator[Any], session: AttachSession | ExecSession) -> None:
    """Feed a client's stream (AttachInput or ExecInput: stdin, resize, close_stdin) into a
    session; the end of the client's stream closes the session's stdin."""
    async for msg in it:
        kind = msg.WhichOneof("input")
        if kind == "stdin":
            await session.write(msg.stdin)
        elif kind == "resize":
            await session.resize(msg.resize.width, msg.resize.height)
        elif kind == "close_stdin":
            await session.close_stdin()
    await session.close_stdin()      # the client half-closed: its stdin has ended


async def _follow_log(pods: PodLookup,
                      target: ContainerInfo) -> AsyncIterator[agent_pb2.ExecOutput]:
    """Output of a container without an attach socket: new log records as they come."""
    async def finished() -> bool:
        return await pods.finished(target.id)

    async for e in logs.follow(target.log_path, 0, None, finished):
        data = logs.render(e, False)
        yield (agent_pb2.ExecOutput(stderr=data) if e.stream == "stderr"
               else agent_pb2.ExecOutput(stdout=data))
    for c in await pods.runtime.list_containers():
        if c.id == target.id and c.exit_code is not None:
            yield agent_pb2.ExecOutput(exit=agent_pb2.ExecExit(exit_code=c.exit_code))
