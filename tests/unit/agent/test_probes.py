from __future__ import annotations

import asyncio

import pytest

from agent.ports import ExecResult, ExecStartError
from agent.probes import LIVENESS, READINESS, STARTUP, ProbeParams, ProbeTracker, run_probe
from proto import core_pb2, meta_pb2

from .fakes import FakeClock


def test_defaults() -> None:
    p = ProbeParams.of(core_pb2.Probe(), READINESS)
    assert (p.initial_delay, p.timeout, p.period, p.success_threshold, p.failure_threshold) == \
        (0, 1, 10, 1, 3)
    # liveness and startup always use successThreshold 1
    assert ProbeParams.of(core_pb2.Probe(success_threshold=3), LIVENESS).success_threshold == 1


def test_readiness_thresholds_and_timing() -> None:
    clock = FakeClock()
    t = ProbeTracker(READINESS, ProbeParams(5, 1, 10, 2, 3), clock(), clock)
    assert not t.ok and not t.is_due()        # initial delay
    clock.advance(5)
    assert t.is_due()
    assert not t.record(True) and not t.ok    # 1 of 2
    assert not t.is_due()
    clock.advance(10)
    assert t.record(True) and t.ok            # 2 of 2: ready
    assert not t.record(False) and t.ok
    assert not t.record(False) and t.ok
    assert t.record(False) and not t.ok       # 3 failures: not ready
    assert not t.failed                       # readiness never asks for a restart


def test_liveness_and_startup_fail_after_threshold() -> None:
    clock = FakeClock()
    live = ProbeTracker(LIVENESS, ProbeParams(0, 1, 10, 1, 2), clock(), clock)
    assert live.ok
    live.record(False)
    assert not live.failed
    live.record(True)
    live.record(False)
    assert not live.failed                    # not consecutive
    live.record(False)
    assert live.failed and not live.ok
    start = ProbeTracker(STARTUP, ProbeParams(0, 1, 1, 1, 3), clock(), clock)
    assert not start.ok
    start.record(True)
    assert start.ok


def test_tcp_and_http_probes() -> None:
    async def go() -> None:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            line = await r.readline()
            code = 200 if b"/ok" in line else 500
            while (await r.readline()) not in (b"\r\n", b""):
                pass
            w.write(f"HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n".encode())
            await w.drain()
            w.close()
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        cont = core_pb2.Container(name="c", ports=[core_pb2.ContainerPort(
            name="http", container_port=port)])

        async def no_exec(argv: list[str], timeout: float) -> ExecResult:
            raise AssertionError

        ok = core_pb2.Probe(http_get=core_pb2.HTTPGetAction(
            path="/ok", port=meta_pb2.IntOrString(str_val="http")))
        bad = core_pb2.Probe(http_get=core_pb2.HTTPGetAction(
            path="/bad", port=meta_pb2.IntOrString(int_val=port)))
        tcp = core_pb2.Probe(tcp_socket=core_pb2.TCPSocketAction(
            port=meta_pb2.IntOrString(int_val=port)))
        assert await run_probe(ok, cont, "127.0.0.1", no_exec, 2) == (True, "")
        res, msg = await run_probe(bad, cont, "127.0.0.1", no_exec, 2)
        assert not res and "500" in msg
        assert (await run_probe(tcp, cont, "127.0.0.1", no_exec, 2))[0]
        srv.close()
        await srv.wait_closed()
        res, _ = await run_probe(tcp, cont, "127.0.0.1", no_exec, 2)
        assert not res

        async def exec3(argv: list[str], timeout: float) -> ExecResult:
            return ExecResult(3, b"nope")
        ex = core_pb2.Probe(exec=core_pb2.ExecAction(command=["x"]))
        assert await run_probe(ex, cont, "", exec3, 1) == (False, "command exited 3: nope")

    asyncio.run(asyncio.wait_for(go(), 20))


def test_what_a_probe_can_meet_fails_it_and_a_bug_raises() -> None:
    """A command that cannot start or a named port that is not there fail the probe
    (with the reason); an error of our own (here a ValueError, as the closed-stdin bug
    raised) is not a probe verdict: it raises, and no healthy container is killed."""
    ex = core_pb2.Probe(exec=core_pb2.ExecAction(command=["x"]))
    cont = core_pb2.Container(name="c")

    async def cannot_start(argv: list[str], timeout: float) -> ExecResult:
        raise ExecStartError("container c1 is not running")

    async def buggy(argv: list[str], timeout: float) -> ExecResult:
        raise ValueError("flush of closed file")

    async def go() -> None:
        assert await run_probe(ex, cont, "", cannot_start, 1) == \
            (False, "container c1 is not running")
        named = core_pb2.Probe(tcp_socket=core_pb2.TCPSocketAction(
            port=meta_pb2.IntOrString(str_val="metrics")))
        ok, msg = await run_probe(named, cont, "127.0.0.1", buggy, 1)
        assert not ok and "'metrics' is not one of the container's named ports" in msg
        with pytest.raises(ValueError, match="flush of closed file"):
            await run_probe(ex, cont, "", buggy, 1)

    asyncio.run(go())
