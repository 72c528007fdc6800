"""What wakes a pod worker, and what a pass reads: the echo of its own status update
is not news; a PLEG listing handed over serves the next pass unless the worker
changed the pod's containers after that listing began."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.podsync.worker import PodWorker
from proto import core_pb2

from .conftest import Env
from .fakes import make_pod


def run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


def test_own_status_echo_does_not_wake_but_changes_do(env: Env,
                                                      loop: asyncio.AbstractEventLoop) -> None:
    w = PodWorker(env.ctx, make_pod())
    run(loop, w.sync_once())
    assert w.last_status is not None and w.last_status.phase == "Running"
    w._wake.clear()
    echo = core_pb2.Pod()
    echo.CopyFrom(w.pod)
    echo.metadata.resource_version = "99"
    echo.status.CopyFrom(w.last_status)
    w.update(echo)
    assert not w._wake.is_set()
    relabelled = core_pb2.Pod()
    relabelled.CopyFrom(echo)
    relabelled.metadata.resource_version = "100"
    relabelled.metadata.labels["tier"] = "web"
    w.update(relabelled)
    assert w._wake.is_set()
    w._wake.clear()
    other = core_pb2.Pod()
    other.CopyFrom(relabelled)
    other.metadata.resource_version = "101"
    other.status.phase = "Failed"           # someone else's word on the status
    w.update(other)
    assert w._wake.is_set()


def test_pleg_listing_serves_the_next_pass_unless_stale(env: Env,
                                                        loop: asyncio.AbstractEventLoop) -> None:
    calls = 0
    real = env.runtime.list_containers

    async def counting() -> Any:
        nonlocal calls
        calls += 1
        return await real()
    env.runtime.list_containers = counting  # type: ignore[method-assign]
    w = PodWorker(env.ctx, make_pod())
    run(loop, w.sync_once())                # lists once; starts the container
    assert calls == 1 and len(env.runtime.running()) == 1
    (c,) = env.runtime.running()
    # a listing that began before the start does not show it: not used
    stale = run(loop, _snapshot_begun_before_start(env, w))
    w.wake(stale)
    run(loop, w.sync_once())
    assert calls == 3 and len(env.runtime.containers) == 1
    # the PLEG's listing after the container exited: the pass uses it, restarts at once
    env.runtime.exit(c.id, 1)
    snap = run(loop, env.ctx.listing.fresh())
    n = calls
    w.wake(snap)
    run(loop, w.sync_once())
    assert calls == n and len(env.runtime.running()) == 1
    assert env.runtime.running()[0].id != c.id


async def _snapshot_begun_before_start(env: Env, w: PodWorker) -> Any:
    snap = await env.ctx.listing.fresh()
    snap.seq = w.view.min_seq - 1
    return snap
