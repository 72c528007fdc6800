"""Prometheus metrics and the /healthz, /readyz endpoints of corral-agent.

    m = AgentMetrics("node-1")                 # its own CollectorRegistry
    m.pods_source(lambda: manager.workers.values())   # read at scrape time
    m.heartbeat_source(lambda: node.last_heartbeat)    # time.monotonic() of the last renewal
    ctx.on_container_start = m.container_started
    image_service.on_pull = m.image_pulled
    http = await start_ops_server("10.0.0.5:10255", m.registry, ready=...)

The HTTP server is a copy of controlplane/metrics.py's (the agent may not
import controlplane). Metrics (names as exposed):

    corral_agent_pods{node,phase}                         gauge: pods this agent runs, by phase
    corral_agent_container_starts_total{node}             counter: containers started
    corral_agent_container_restarts_total{node}           counter: of which restarts
    corral_agent_image_pull_bytes_total{node}             counter: layer bytes downloaded
    corral_agent_image_pull_duration_seconds{node,result} histogram
    corral_agent_registered{node}                         gauge: 1 once the Node is registered
    corral_agent_heartbeat_age_seconds{node}              gauge: since the last lease renewal
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

log = logging.getLogger("corral.agent.metrics")

DEFAULT_PORT = 10255
PULL_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")

ReadyCheck = Callable[[], Awaitable[tuple[bool, str]]]


class AgentMetrics:
    def __init__(self, node: str, registry: CollectorRegistry | None = None) -> None:
        self.node = node
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.starts = Counter("corral_agent_container_starts", "containers started",
                              ["node"], registry=r).labels(node)
        self.restarts = Counter("corral_agent_container_restarts",
                                "containers started again after an exit", ["node"],
                                registry=r).labels(node)
        self.pull_bytes = Counter("corral_agent_image_pull_bytes",
                                  "image bytes downloaded from registries", ["node"],
                                  registry=r).labels(node)
        self.pull_duration = Histogram("corral_agent_image_pull_duration_seconds",
                                       "image pull duration", ["node", "result"],
                                       buckets=PULL_BUCKETS, registry=r)
        self._pods: Callable[[], Iterable[str]] = lambda: ()
        self._heartbeat: Callable[[], float | None] = lambda: None
        self._registered: Callable[[], bool] = lambda: False
        r.register(_Gauges(self))

    def pods_source(self, phases: Callable[[], Iterable[str]]) -> None:
        """`phases()`: the phase of every pod this agent runs now."""
        self._pods = phases

    def heartbeat_source(self, last: Callable[[], float | None],
                         registered: Callable[[], bool]) -> None:
        """`last()`: time.monotonic() of the last successful lease renewal (None: never)."""
        self._heartbeat = last
        self._registered = registered

    def heartbeat_age(self) -> float | None:
        last = self._heartbeat()
        return None if last is None else max(0.0, time.monotonic() - last)

    # hooks
    def container_started(self, pod: str, container: str, restart: bool) -> None:
        self.starts.inc()
        if restart:
            self.restarts.inc()

    def image_pulled(self, ref: str, nbytes: int, seconds: float, ok: bool) -> None:
        if nbytes:
            self.pull_bytes.inc(nbytes)
        self.pull_duration.labels(self.node, "ok" if ok else "error").observe(seconds)


class _Gauges(Collector):
    def __init__(self, m: AgentMetrics) -> None:
        self.m = m

    def collect(self) -> Iterable[GaugeMetricFamily]:
        pods = GaugeMetricFamily("corral_agent_pods", "pods on this node by phase",
                                 labels=["node", "phase"])
        counts = dict.fromkeys(PHASES, 0)
        with contextlib.suppress(Exception):
            for phase in self.m._pods():
                counts[phase or "Pending"] = counts.get(phase or "Pending", 0) + 1
        for phase, n in counts.items():
            pods.add_metric([self.m.node, phase], n)
        yield pods
        reg = GaugeMetricFamily("corral_agent_registered", "1 once the Node is registered",
                                labels=["node"])
        reg.add_metric([self.m.node], 1 if self.m._registered() else 0)
        yield reg
        age = GaugeMetricFamily("corral_agent_heartbeat_age_seconds",
                                "seconds since the last successful lease renewal "
                                "(absent before the first)", labels=["node"])
        a = self.m.heartbeat_age()
        if a is not None:
            age.add_metric([self.m.node], a)
        yield age


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
