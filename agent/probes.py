"""Liveness, readiness and startup probes: Kubernetes' defaults and semantics.

`ProbeTracker` is the pure state machine for one probe of one container
instance (thresholds, initial delay, period); `run_probe` performs one check
(exec through the runtime, httpGet and tcpSocket against the pod IP).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agent.ports import ExecResult, ExecStartError
from proto import core_pb2, meta_pb2

LIVENESS = "liveness"
READINESS = "readiness"
STARTUP = "startup"

DEFAULT_TIMEOUT = 1
DEFAULT_PERIOD = 10
DEFAULT_SUCCESS = 1
DEFAULT_FAILURE = 3


@dataclass(frozen=True)
class ProbeParams:
    initial_delay: float
    timeout: float
    period: float
    success_threshold: int
    failure_threshold: int

    @classmethod
    def of(cls, p: core_pb2.Probe, kind: str) -> ProbeParams:
        success = p.success_threshold or DEFAULT_SUCCESS
        if kind in (LIVENESS, STARTUP):
            success = 1   # Kubernetes requires 1 for liveness and startup
        return cls(
            initial_delay=float(max(p.initial_delay_seconds, 0)),
            timeout=float(p.timeout_seconds or DEFAULT_TIMEOUT),
            period=float(p.period_seconds or DEFAULT_PERIOD),
            success_threshold=success,
            failure_threshold=p.failure_threshold or DEFAULT_FAILURE,
        )


def has_probe(p: core_pb2.Probe) -> bool:
    return bool(p.HasField("exec") or p.HasField("http_get") or p.HasField("tcp_socket"))


class ProbeTracker:
    """One probe of one container instance.

    `ok` is the probe's current verdict: readiness starts False (not ready
    until it succeeds), liveness starts True, startup starts False (the
    container is not "started" until it succeeds). It flips only when the
    success or failure threshold of consecutive results is reached.
    """

    def __init__(self, kind: str, params: ProbeParams, started_at: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.kind = kind
        self.params = params
        self.clock = clock
        self.ok = kind == LIVENESS
        self.successes = 0
        self.failures = 0
        self.last_message = ""
        self.due = started_at + params.initial_delay

    @property
    def failed(self) -> bool:
        """Liveness/startup verdict reached failure: the container must be restarted."""
        return self.kind != READINESS and self.failures >= self.params.failure_threshold

    def record(self, success: bool, message: str = "") -> bool:
        """Record one result; returns True when the verdict changed."""
        self.due = self.clock() + self.params.period
        self.last_message = message
        before = self.ok
        if success:
            self.successes += 1
            self.failures = 0
            if self.successes >= self.params.success_threshold:
                self.ok = True
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= self.params.failure_threshold:
                self.ok = False
        return before != self.ok

    def is_due(self) -> bool:
        return self.clock() >= self.due


ExecFn = Callable[[list[str], float], Awaitable[ExecResult]]


class UnknownPort(ValueError):
    """A probe names a port the container does not declare."""


def resolve_port(port: meta_pb2.IntOrString, container: core_pb2.Container) -> int:
    """An IntOrString port: a number, or the name of one of the container's ports."""
    if port.WhichOneof("value") == "int_val":
        return int(port.int_val)
    name = port.str_val
    if name.isdigit():
        return int(name)
    for cp in container.ports:
        if cp.name == name:
            return int(cp.container_port)
    raise UnknownPort(f"port {name!r} is not one of the container's named ports")


async def run_probe(probe: core_pb2.Probe, container: core_pb2.Container, pod_ip: str,
                    exec_fn: ExecFn, timeout: float) -> tuple[bool, str]:
    """Run one check; (success, message for the status/event).

    Only what a probe can meet counts as a failure (the command exits non-zero or
    cannot start, a timeout, a refused or broken connection, a named port that is
    not there); anything else is a bug and raises rather than kill a healthy container.
    """
    try:
        if probe.HasField("exec"):
            try:
                r = await exec_fn(list(probe.exec.command), timeout)
            except ExecStartError as e:
                return False, str(e)
            if r.timed_out:
                return False, f"command timed out after {timeout:g}s"
            if r.exit_code != 0:
                out = r.output.decode(errors="replace").strip()
                return False, f"command exited {r.exit_code}" + (f": {out}" if out else "")
            return True, ""
        if probe.HasField("http_get"):
            port = resolve_port(probe.http_get.port, container)
            return await asyncio.wait_for(_http_get(probe.http_get, port, pod_ip), timeout)
        if probe.HasField("tcp_socket"):
            host = probe.tcp_socket.host or pod_ip
            port = resolve_port(probe.tcp_socket.port, container)
            _, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            w.close()
            return True, ""
    except TimeoutError:
        return False, f"probe timed out after {timeout:g}s"
    except (OSError, UnknownPort) as e:
        return False, str(e)
    return True, ""


async def _http_get(h: core_pb2.HTTPGetAction, port: int, pod_ip: str) -> tuple[bool, str]:
    host = h.host or pod_ip
    path = h.path or "/"
    if h.scheme.upper() == "HTTPS":
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE   # Kubernetes does not verify probe certificates
        r, w = await asyncio.open_connection(host, port, ssl=ctx)
    else:
        r, w = await asyncio.open_connection(host, port)
    try:
        headers = {"Host": f"{host}:{port}", "User-Agent": "corral-probe/0.1",
                   "Accept": "*/*", "Connection": "close"}
        for hh in h.http_headers:
            headers[hh.name] = hh.value
        req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        w.write((req + "\r\n").encode())
        await w.drain()
        try:
            line = await r.readline()
        except ValueError:          # a status line past the stream's limit
            return False, "malformed HTTP response: the status line is too long"
        parts = line.decode(errors="replace").split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            return False, f"malformed HTTP response: {line[:80]!r}"
        code = int(parts[1])
        if 200 <= code < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {code}"
    finally:
        w.close()
