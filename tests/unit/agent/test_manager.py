"""The pod manager against a fake Api: list/watch, relist, the control plane away."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from agent.podsync.manager import PodManager
from agent.podsync.worker import PodWorker
from agent.ports import ApiUnavailable, ContainerSpec
from proto import core_pb2, kinds

from .conftest import Env
from .fakes import make_pod


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def fast(env: Env, resync_interval: float = 0.2) -> None:
    env.ctx.profile = dataclasses.replace(env.ctx.profile, api_retry_initial=0.01,
                                          api_retry_max=0.05, resync_interval=resync_interval)
    env.ctx.statuses.retry.initial = env.ctx.statuses.retry.maximum = 0.02


def run_manager(env: Env, body: Callable[[PodManager], Awaitable[None]], *,
                pleg_interval: float = 0.02, resync_interval: float = 0.2) -> None:
    fast(env, resync_interval)

    async def go() -> None:
        m = PodManager(env.ctx, pleg_interval=pleg_interval)
        tasks = [asyncio.ensure_future(x) for x in
                 (m.run_source(), m.run_pleg(), env.ctx.statuses.run())]
        try:
            await asyncio.wait_for(body(m), 30)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await m.stop()
    asyncio.get_event_loop().run_until_complete(go())


def count_passes(w: PodWorker) -> list[int]:
    """A counter of the worker's completed sync passes from now on (a pass that raised
    counts too: it is over)."""
    done = [0]
    inner = w.sync_once

    async def counted() -> float:
        try:
            return await inner()
        finally:
            done[0] += 1
    w.sync_once = counted    # type: ignore[method-assign]
    return done


def last_status(env: Env, name: str = "web") -> core_pb2.PodStatus:
    return [p.status for p in env.api.statuses if p.metadata.name == name][-1]


def test_api_away_nothing_stopped_statuses_queued(env: Env) -> None:
    env.api.put(kinds.wrap(make_pod()))

    async def body(m: PodManager) -> None:
        await until(lambda: bool(env.runtime.running()))
        await until(lambda: bool(env.api.statuses) and last_status(env).phase == "Running")
        env.api.down = True
        env.api.break_watches(ApiUnavailable("gone"))
        (c,) = env.runtime.running()
        sent = len(env.api.statuses)
        env.runtime.exit(c.id, 1)               # crashes while the API is away
        await until(lambda: bool(env.runtime.running()) and env.runtime.running()[0].id != c.id)
        await until(lambda: env.ctx.statuses.pending() > 0)
        assert len(env.api.statuses) == sent
        assert all(cid == c.id for cid, _ in env.runtime.stopped) and not env.runtime.stopped
        assert "uid-1" in m.workers and not m.workers["uid-1"].removed
        env.api.down = False
        await until(lambda: env.ctx.statuses.pending() == 0
                    and last_status(env).container_statuses[0].restart_count == 1)
        await until(lambda: m.relists >= 2)
        assert env.runtime.stopped == []

    run_manager(env, body)


def test_pod_gone_while_away_is_cleaned_up_without_delete(env: Env) -> None:
    env.api.put(kinds.wrap(make_pod()))

    async def body(m: PodManager) -> None:
        await until(lambda: bool(env.runtime.running()))
        env.api.down = True
        env.api.break_watches(ApiUnavailable("gone"))
        await until(lambda: "list" in env.api.calls[-3:] or "watch" in env.api.calls[-3:])
        del env.api.objects[("pods", "default", "web")]   # evicted while away
        assert env.runtime.running()
        env.api.down = False
        await until(lambda: not env.runtime.containers and "uid-1" not in m.workers)
        assert env.network.torn_down == ["uid-1"]
        assert env.api.deletes == []

    run_manager(env, body)


def test_watch_events_and_deletion(env: Env) -> None:
    async def body(m: PodManager) -> None:
        # the fake API replays nothing: wait for the watch before adding the pod
        await until(lambda: m.listed.is_set() and bool(env.api.watchers))
        pod = make_pod()
        env.api.put(kinds.wrap(pod))
        await until(lambda: bool(env.runtime.running()))
        pod.metadata.deletion_timestamp.GetCurrentTime()
        pod.metadata.deletion_grace_period_seconds = 3
        env.api.put(kinds.wrap(pod))
        await until(lambda: bool(env.api.deletes) and not m.workers)
        assert env.api.deletes == [("pods", "default", "web", 0)]
        assert [g for _, g in env.runtime.stopped] == [3.0]
        assert not env.runtime.containers and not env.runtime.sandboxes

    run_manager(env, body)


def test_relist_on_too_old(env: Env) -> None:
    env.api.put(kinds.wrap(make_pod()))

    async def body(m: PodManager) -> None:
        await until(lambda: bool(env.runtime.running()))
        env.api.gone_once = True
        from agent.ports import ApiGone
        env.api.break_watches(ApiGone("too old"))
        await until(lambda: m.relists >= 2)
        assert env.runtime.stopped == []

    run_manager(env, body)


def test_orphans_cleaned_only_after_first_list(env: Env) -> None:
    async def start_ghost() -> None:
        await env.runtime.start_container(ContainerSpec(
            pod_uid="ghost", namespace="default", pod_name="old", name="app", attempt=0,
            image="busybox", image_id="", layer_dirs=[], argv=["x"], env=[]))
    asyncio.get_event_loop().run_until_complete(start_ghost())
    env.api.down = True

    async def body(m: PodManager) -> None:
        await until(lambda: env.api.calls.count("list") >= 3)
        assert env.runtime.running() and not env.runtime.stopped
        assert env.runtime.orphan_calls == []
        env.api.down = False
        await until(lambda: not env.runtime.containers)
        await until(lambda: bool(env.runtime.orphan_calls) and bool(env.network.orphan_calls))
        assert env.api.deletes == []

    run_manager(env, body)


def test_restart_while_api_away_looks_after_cached_pods(env: Env) -> None:
    env.api.put(kinds.wrap(make_pod()))

    async def first(m: PodManager) -> None:
        await until(lambda: bool(env.runtime.running()))
    run_manager(env, first)
    (c,) = env.runtime.running()
    # the agent is gone; the control plane too; the agent comes back
    env.api.down = True

    async def second(m: PodManager) -> None:
        assert m.restore() == 1
        await until(lambda: "uid-1" in m.workers and m.workers["uid-1"]._adopted)
        assert env.runtime.running() == [c]
        env.runtime.exit(c.id, 1)             # crashes: restarted without the API
        await until(lambda: bool(env.runtime.running()))
        assert env.runtime.running()[0].id != c.id
        assert not env.api.deletes
        env.api.down = False
        await until(lambda: env.ctx.statuses.pending() == 0 and bool(env.api.statuses)
                    and last_status(env).container_statuses[0].restart_count == 1)

    run_manager(env, second)


def test_cached_pod_gone_from_api_is_stopped_after_list(env: Env) -> None:
    env.api.put(kinds.wrap(make_pod()))
    run_manager(env, lambda m: until(lambda: bool(env.runtime.running())))
    del env.api.objects[("pods", "default", "web")]

    async def second(m: PodManager) -> None:
        m.restore()
        await until(lambda: not env.runtime.containers and not m.workers)
        assert env.ctx.store.load_pods() == []

    run_manager(env, second)


def test_cached_pod_with_nothing_running_starts_nothing_until_confirmed(env: Env) -> None:
    """A node that comes back after being killed must not start the containers
    of its cached pods before the control plane confirms them: they may have
    been evicted and replaced elsewhere (never two copies)."""
    env.api.put(kinds.wrap(make_pod()))
    run_manager(env, lambda m: until(lambda: bool(env.runtime.running())))
    (c,) = env.runtime.running()
    env.runtime.exit(c.id, 137)               # the node was killed: nothing runs
    env.api.down = True

    async def second(m: PodManager) -> None:
        assert m.restore() == 1
        await until(lambda: "uid-1" in m.workers and m.workers["uid-1"]._adopted)
        passes = count_passes(m.workers["uid-1"])
        for n in range(1, 4):                 # several whole sync passes while the API is away
            m.workers["uid-1"].wake()
            await until(lambda n=n: passes[0] >= n)
        assert env.runtime.running() == []
        env.api.down = False                  # the control plane confirms the pod
        await until(lambda: bool(env.runtime.running()))

    run_manager(env, second)


def test_pleg_wakes_a_worker_only_for_what_its_last_pass_did_not_see(env: Env) -> None:
    async def body(m: PodManager) -> None:   # the PLEG relists only when the test asks
        await until(lambda: m.listed.is_set() and bool(env.api.watchers))
        env.api.put(kinds.wrap(make_pod()))
        await until(lambda: bool(env.runtime.running()) and bool(m.workers))
        w = next(iter(m.workers.values()))
        await until(lambda: w.seen is not None and bool(env.api.statuses))
        woken: list[object] = []
        real_wake = w.wake
        w.wake = lambda snap=None: (woken.append(snap), real_wake(snap))  # type: ignore
        await m.poll_runtime_once()     # the container it started, as it left it
        assert woken == []
        env.runtime.exit(env.runtime.running()[0].id, 3)
        await m.poll_runtime_once()     # news: the worker runs a pass and reports it
        assert len(woken) == 1
        def exit_reported() -> bool:
            cs = last_status(env).container_statuses[0]
            return any(x.HasField("terminated") and x.terminated.exit_code == 3
                       for x in (cs.state, cs.last_state))
        await until(exit_reported)

    run_manager(env, body, pleg_interval=3600, resync_interval=3600)
