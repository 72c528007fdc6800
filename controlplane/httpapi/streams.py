"""pods/exec and pods/attach over WebSocket, with Kubernetes' channel protocols
(v5.channel.k8s.io, v4.channel.k8s.io; SPDY is not served), relayed to the agent of the
pod's node by the same relay as the gRPC API's Exec and Attach (verbs `proxy` and
`attach`: admins only).

Every binary frame starts with its channel: 0 stdin, 1 stdout, 2 stderr, 3 the final
metav1.Status (Success, or NonZeroExitCode with the exit code as a cause), 4 resize
({"Width": 80, "Height": 24}), 255 close (v5: the client's stdin ended).

Query: command (repeated, exec), container, stdin, stdout, stderr, tty.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web

from controlplane import errors
from controlplane.apiserver.agents import AgentError, bidi_to_pod
from controlplane.httpapi import status
from controlplane.httpapi.call import Call, dumps
from proto import agent_pb2

log = logging.getLogger(__name__)

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def _exit_status(exit_code: int, error: str, command: list[str]) -> dict[str, Any]:
    if error:
        return {"metadata": {}, "status": "Failure", "message": error,
                "reason": "InternalError"}
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing "
                       f"command {command}, exit code {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}


async def _inputs(ws: web.WebSocketResponse, message: Any) -> AsyncIterator[Any]:
    """Frames from the client as ExecInput/AttachInput messages (`message` is the class)."""
    stdin_open = True
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or not msg.data:
            continue
        channel, payload = msg.data[0], msg.data[1:]
        if channel == STDIN and payload:
            yield message(stdin=payload)
        elif channel == RESIZE:
            with contextlib.suppress(ValueError, TypeError):
                size = json.loads(payload)
                yield message(resize=agent_pb2.TerminalSize(width=int(size.get("Width", 0)),
                                                            height=int(size.get("Height", 0))))
        elif channel == CLOSE and payload[:1] == bytes([STDIN]) and stdin_open:
            stdin_open = False
            yield message(close_stdin=True)
    if stdin_open:
        yield message(close_stdin=True)


async def _serve(call: Call, verb: str, first: Any, message: Any,
                 open_call: Any, command: list[str]) -> web.StreamResponse:
    t, ns = call.target, call.namespace
    call.house.access.check(verb, "pods", ns, t.name)
    pod = await call.house.registry.get("pods", ns, t.name)
    if not pod.pod.spec.node_name:
        raise errors.BadRequest(f'pod "{t.name}" is not scheduled on a node yet')
    ws = web.WebSocketResponse(protocols=PROTOCOLS, heartbeat=30.0, max_msg_size=0)
    if not ws.can_prepare(call.request).ok:
        raise errors.BadRequest(f"{verb}: upgrade to a WebSocket with one of the protocols "
                                f"{', '.join(PROTOCOLS)} (SPDY is not served)")
    await ws.prepare(call.request)
    final: dict[str, Any] = {"metadata": {}, "status": "Success"}
    try:
        async for out in bidi_to_pod(call.house.agents, ns, t.name, first,
                                     _inputs(ws, message), open_call):
            which = out.WhichOneof("output")
            if which == "stdout":
                await ws.send_bytes(bytes([STDOUT]) + out.stdout)
            elif which == "stderr":
                await ws.send_bytes(bytes([STDERR]) + out.stderr)
            elif which == "exit":
                final = _exit_status(out.exit.exit_code, out.exit.error, command)
                break
    except (errors.ApiError, AgentError) as e:
        final = status.status_of(e, call.subject)[1]
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await ws.send_bytes(bytes([ERROR]) + dumps(final))
        await ws.close()
    return ws


async def exec_(call: Call) -> web.StreamResponse:
    q = call.request.query
    command = q.getall("command", [])
    if not command:
        raise errors.BadRequest("you must specify at least 1 command")
    start = agent_pb2.ExecStart(namespace=call.namespace, pod=call.target.name,
                                container=call.param("container"), command=command,
                                stdin=call.flag("stdin"), tty=call.flag("tty"))
    return await _serve(call, "proxy", agent_pb2.ExecInput(start=start), agent_pb2.ExecInput,
                        lambda stub, inputs: stub.Exec(inputs), command)


async def attach(call: Call) -> web.StreamResponse:
    start = agent_pb2.AttachStart(namespace=call.namespace, pod=call.target.name,
                                  container=call.param("container"),
                                  stdin=call.flag("stdin"), tty=call.flag("tty"))
    return await _serve(call, "attach", agent_pb2.AttachInput(start=start),
                        agent_pb2.AttachInput, lambda stub, inputs: stub.Attach(inputs), [])
