"""pods/portforward: `kubectl port-forward`, as Kubernetes serves it since 1.31: SPDY/3.1
(spdy.py) tunneled in the binary messages of a WebSocket whose subprotocol is
"SPDY/3.1+portforward.k8s.io" (plain SPDY upgrades are not served). Verb `proxy` on
the pod, like exec: admins only.

For each connection kubectl accepts locally it opens two streams, headers streamType
(error, then data), port and requestID. Each is answered at once; once both are open
the door dials the port of the pod (PodDialer: through the agent of the pod's node)
and copies bytes between the data stream and that connection. The client's end of the
data stream half-closes the pod's side; the pod's end ends the data stream. A failure
is written on the error stream, which kubectl prints (and then ends the session, as
with Kubernetes); otherwise the error stream ends empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from controlplane import errors
from controlplane.httpapi import spdy
from controlplane.httpapi.call import Call
from controlplane.httpapi.podconn import PodConn, PodDialer

log = logging.getLogger(__name__)

PROTOCOL = "SPDY/3.1+portforward.k8s.io"
QUEUED = 64                  # chunks from the client held for a connection being dialled


@dataclass
class _Pair:
    port: int
    error_id: int = 0
    data_id: int = 0
    inbound: asyncio.Queue[bytes | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUED))
    task: asyncio.Task[None] | None = None
    done: bool = False


class Session:
    """One kubectl port-forward session: the SPDY streams of a WebSocket, to the pod."""

    def __init__(self, ws: web.WebSocketResponse, dial: PodDialer, namespace: str,
                 pod: str) -> None:
        self.ws, self.dial, self.namespace, self.pod = ws, dial, namespace, pod
        self.writer = spdy.FrameWriter()
        self.pairs: dict[str, _Pair] = {}
        self.streams: dict[int, _Pair] = {}
        self.last_stream = 0
        self._lock = asyncio.Lock()

    async def send(self, make: Callable[[spdy.FrameWriter], bytes]) -> None:
        async with self._lock:          # frames leave in the order their headers are made
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                await self.ws.send_bytes(make(self.writer))

    async def run(self) -> None:
        reader = spdy.FrameReader()
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                try:
                    frames = reader.feed(msg.data)
                except spdy.SpdyError as e:
                    log.info("port-forward to %s/%s: %s", self.namespace, self.pod, e)
                    await self.send(lambda w: w.goaway(self.last_stream, 1))
                    return
                for frame in frames:
                    if not await self._handle(frame):
                        return
        finally:
            for pair in self.pairs.values():
                if pair.task is not None:
                    pair.task.cancel()
            await asyncio.gather(*(p.task for p in self.pairs.values() if p.task),
                                 return_exceptions=True)

    async def _handle(self, f: spdy.Frame) -> bool:
        """Act on one frame; False: the client is done with the session."""
        if f.type == spdy.SYN_STREAM:
            await self._open(f)
        elif f.type == spdy.DATA:
            pair = self.streams.get(f.stream_id)
            if pair is not None and f.stream_id == pair.data_id and not pair.done:
                if f.data:
                    await pair.inbound.put(f.data)
                if f.fin:
                    await pair.inbound.put(None)
        elif f.type == spdy.RST_STREAM:
            pair = self.streams.get(f.stream_id)
            if pair is not None and pair.task is not None:
                pair.task.cancel()
        elif f.type == spdy.PING:
            await self.send(lambda w: w.ping(f.value))
        elif f.type == spdy.GOAWAY:
            return False
        return True

    async def _open(self, f: spdy.Frame) -> None:
        self.last_stream = max(self.last_stream, f.stream_id)
        kind, port = f.headers.get("streamtype", ""), f.headers.get("port", "")
        key = f.headers.get("requestid") or f"port {port}"
        await self.send(lambda w: w.syn_reply(f.stream_id))
        pair = self.pairs.get(key)
        if pair is None:
            number = int(port) if port.isdigit() else 0
            pair = self.pairs[key] = _Pair(number)
        self.streams[f.stream_id] = pair
        if kind == "error":
            pair.error_id = f.stream_id
        elif kind == "data":
            pair.data_id = f.stream_id
        else:
            await self.send(lambda w: w.rst_stream(f.stream_id, spdy.RST_PROTOCOL_ERROR))
            return
        if pair.error_id and pair.data_id and pair.task is None:
            pair.task = asyncio.ensure_future(self._forward(pair))

    async def _forward(self, pair: _Pair) -> None:
        failure = ""
        try:
            if not 1 <= pair.port <= 65535:
                raise errors.BadRequest(f'invalid port "{pair.port}"')
            conn = await self.dial(self.namespace, self.pod, pair.port)
            try:
                await self._copy(pair, conn)
            finally:
                await conn.close()
        except asyncio.CancelledError:
            raise
        except Exception as e:           # the words go to kubectl, on the error stream
            reason = e.message if isinstance(e, errors.ApiError) else str(e) or repr(e)
            failure = (f"error forwarding port {pair.port} to pod {self.pod}: {reason}")
        finally:
            pair.done = True
            while not pair.inbound.empty():          # free a reader blocked on a full queue
                pair.inbound.get_nowait()
        await self.send(lambda w: w.data(pair.data_id, b"", fin=True))
        await self.send(lambda w: w.data(pair.error_id, failure.encode(), fin=True))

    async def _copy(self, pair: _Pair, conn: PodConn) -> None:
        async def client_to_pod() -> None:
            while (chunk := await pair.inbound.get()) is not None:
                await conn.write(chunk)
            await conn.close_write()

        pump = asyncio.ensure_future(client_to_pod())
        try:
            while data := await conn.read():
                await self.send(lambda w: w.data(pair.data_id, data))
        finally:
            if not pump.done():
                pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)


async def portforward(call: Call) -> web.StreamResponse:
    t, ns = call.target, call.namespace
    call.house.access.check("proxy", "pods", ns, t.name)
    pod = await call.house.registry.get("pods", ns, t.name)
    if call.house.dial_pod is None:
        raise errors.BadRequest("port-forward is not served by this control plane (its "
                                "agents cannot forward ports)")
    if not pod.pod.spec.node_name:
        raise errors.BadRequest(f'pod "{t.name}" is not scheduled on a node yet')
    ws = web.WebSocketResponse(protocols=(PROTOCOL,), heartbeat=30.0, max_msg_size=0)
    if not ws.can_prepare(call.request).ok:
        raise errors.BadRequest(f"port-forward: upgrade to a WebSocket with the protocol "
                                f"{PROTOCOL} (plain SPDY is not served)")
    await ws.prepare(call.request)
    await Session(ws, call.house.dial_pod, ns, t.name).run()
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await ws.close()
    return ws
