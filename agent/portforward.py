"""The agent's `PortForward` RPC (proto/agent.proto): one TCP connection to a port on
the pod's loopback, like the kubelet's port-forward (the control plane relays it
from `corral port-forward`).

The first message names the pod and port; the agent connects from inside the
pod's network namespace (agent/network/dial.py), answers `connected`, then
copies bytes both ways. The client's `close_write` half-closes the pod side;
the pod closing its side ends the stream. A refused or failed connection is
one `error` message. Called by AgentService (agent/server.py); only the
control plane may call it (agent/security's guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable
from typing import Protocol

import grpc

from agent.podlookup import PodLookup
from proto import agent_pb2

log = logging.getLogger("corral.agent.portforward")

CHUNK = 64 * 1024


class PodDialer(Protocol):
    def __call__(self, netns_path: str, port: int) -> Awaitable[socket.socket]: ...


async def port_forward(pods: PodLookup, dial_pod: PodDialer | None,
                       request_iterator: AsyncIterator[agent_pb2.PortForwardInput],
                       context: grpc.aio.ServicerContext,
                       ) -> AsyncIterator[agent_pb2.PortForwardOutput]:
    it = aiter(request_iterator)
    first = await anext(it, None)
    if first is None:
        return
    if first.WhichOneof("input") != "start":
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                            "the first message of PortForward must be `start`")
    s = first.start
    w = await pods.worker(context, s.namespace, s.pod)
    netns = w.state.netns_path
    if not netns or dial_pod is None:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                            f'pod "{s.pod}" has no network yet')
        raise AssertionError("unreachable")
    try:
        sock = await dial_pod(netns, s.port)
    except OSError as e:
        yield agent_pb2.PortForwardOutput(
            error=f'connecting to port {s.port} of pod "{s.pod}": {e.strerror or e}')
        return
    reader, writer = await asyncio.open_connection(sock=sock)
    yield agent_pb2.PortForwardOutput(connected=True)
    pump = asyncio.ensure_future(_pump_in(it, writer))
    try:
        while data := await reader.read(CHUNK):
            yield agent_pb2.PortForwardOutput(data=data)
    except OSError as e:
        yield agent_pb2.PortForwardOutput(error=f"reading from the pod: {e.strerror or e}")
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _pump_in(it: AsyncIterator[agent_pb2.PortForwardInput],
                   writer: asyncio.StreamWriter) -> None:
    """The client's bytes into the pod's socket; the end of its stream half-closes it."""
    try:
        async for msg in it:
            kind = msg.WhichOneof("input")
            if kind == "data":
                writer.write(msg.data)
                await writer.drain()
            elif kind == "close_write":
                break
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, grpc.aio.AioRpcError) as e:
        log.debug("port-forward client stream ended: %s", e)
