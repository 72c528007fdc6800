"""The operational HTTP endpoint of corral's daemons: GET /metrics (Prometheus
text format), /healthz and /readyz on one small asyncio server. Shared by the
control plane (`controlplane/metrics.py`) and the agent (`agent/metrics.py`),
which may not import each other.

Metrics carry no credentials: the daemons keep this endpoint on loopback
unless told otherwise (`--metrics-listen`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from prometheus_client.registry import CollectorRegistry

log = logging.getLogger("corral.ops")

# `async () -> (ready, why)`: what /readyz answers
ReadyCheck = Callable[[], Awaitable[tuple[bool, str]]]


class OpsHttpServer:
    """GET /metrics (Prometheus text format), /healthz (the process answers) and /readyz
    (`ready()` says so) on one small asyncio HTTP/1.1 server (Connection: close)."""

    def __init__(self, listen: str, registry: CollectorRegistry,
                 ready: ReadyCheck | None = None) -> None:
        self.listen = listen
        self.registry = registry
        self.ready = ready
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        host, _, port = self.listen.rpartition(":")
        host = host.strip("[]") or "0.0.0.0"
        self._server = await asyncio.start_server(self._handle, host, int(port))
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics and health on http://%s:%d/metrics", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            method, path = (parts[0], parts[1].split("?", 1)[0]) if len(parts) >= 2 else ("", "")
            status, ctype, body = await self._route(method, path)
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + (body if method != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, OSError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _route(self, method: str, path: str) -> tuple[str, str, bytes]:
        text = "text/plain; charset=utf-8"
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", text, b"only GET\n"
        if path == "/metrics":
            # imported on the first scrape (http.server, urllib, wsgiref: ~2 MB)
            from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if path in ("/healthz", "/livez"):
            return "200 OK", text, b"ok\n"
        if path == "/readyz":
            ok, why = (True, "ok") if self.ready is None else await self.ready()
            return ("200 OK" if ok else "503 Service Unavailable"), text, (why + "\n").encode()
        return "404 Not Found", text, b"not found: try /metrics, /healthz, /readyz\n"


async def start_ops_server(listen: str, registry: CollectorRegistry,
                           ready: ReadyCheck | None = None) -> OpsHttpServer | None:
    """Start the endpoint on `listen`; None when disabled ("0" or "") or the port is taken
    (logged: a busy metrics port must not stop the daemon)."""
    if listen in ("", "0"):
        return None
    server = OpsHttpServer(listen, registry, ready)
    try:
        await server.start()
    except OSError as e:
        log.error("metrics disabled: cannot listen on %s: %s", listen, e)
        return None
    return server
