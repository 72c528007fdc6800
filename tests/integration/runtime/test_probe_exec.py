"""Exec probes through the agent's runtime adapter into real containers: the command's
verdict, its output, its timeout, and a command that cannot start."""

from __future__ import annotations

import asyncio

import pytest

from agent.adapters.runtime import RuntimeAdapter
from agent.ports import ExecResult
from agent.probes import run_probe
from proto import core_pb2
from tests.integration.runtime.conftest import SKIP, Env, wait_for

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(SKIP), reason=SKIP or "")]


def probe(env: Env, cid: str, argv: list[str], timeout: float = 2) -> tuple[bool, str]:
    adapter = RuntimeAdapter(env.rt)

    async def exec_fn(a: list[str], t: float) -> ExecResult:
        return await adapter.exec(cid, a, t)
    p = core_pb2.Probe(exec=core_pb2.ExecAction(command=argv))
    return asyncio.run(run_probe(p, core_pb2.Container(name="c"), "", exec_fn, timeout))


def test_exec_probe_reads_the_containers_own_files(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh", "-c", "touch /tmp/healthy; echo up; exec sleep 1000"])
    env.rt.start_container(cfg)
    wait_for(lambda: "up" in env.output(cfg.id), 10, "the container up")
    assert probe(env, cfg.id, ["cat", "/tmp/healthy"]) == (True, "")
    ok, msg = probe(env, cfg.id, ["cat", "/tmp/absent"])
    assert not ok and msg.startswith("command exited 1:") and "/tmp/absent" in msg
    # the command ran in the container (its PID namespace), not on the host
    ok, msg = probe(env, cfg.id, ["sh", "-c", "test $$ -lt 10 && exit 3"])
    assert (ok, msg) == (False, "command exited 3")


def test_exec_probe_times_out_and_leaves_no_process(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sleep", "1000"])
    info = env.rt.start_container(cfg)
    ok, msg = probe(env, cfg.id, ["sleep", "30"], timeout=0.5)
    assert (ok, msg) == (False, "command timed out after 0.5s")
    wait_for(lambda: env.rt.stats(cfg.id).pids == 1, 10, "the probe's sleep gone")
    assert env.rt.status(cfg.id).pid == info.pid


def test_exec_probe_that_cannot_start_is_a_failure_not_a_crash(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sleep", "1000"])
    env.rt.start_container(cfg)
    ok, msg = probe(env, cfg.id, ["no-such-command"])
    assert not ok and "no-such-command" in msg
    env.rt.stop(cfg.id, grace_seconds=0)
    ok, msg = probe(env, cfg.id, ["true"])
    assert not ok and "not running" in msg
