"""A pod worker's end (deletion, removal, an unreachable API) and its restarts
(restart counts kept, containers re-adopted, the network not ready yet)."""

from __future__ import annotations

import asyncio

from agent.podsync.worker import PodWorker
from proto import core_pb2

from .fakes import make_pod
from .workers import c, run, status_of


def test_deletion_flow(env, loop):
    pod = make_pod(containers=[c("app", "sleep")])
    pod.spec.termination_grace_period_seconds = 30
    from proto import kinds
    env.api.put(kinds.wrap(pod))
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    deleting = core_pb2.Pod()
    deleting.CopyFrom(pod)
    deleting.metadata.deletion_timestamp.GetCurrentTime()
    deleting.metadata.deletion_grace_period_seconds = 7
    w.update(deleting)
    run(loop, w.sync_once())
    assert env.runtime.stopped == [(cur.id, 7.0)]
    assert not env.runtime.containers
    assert env.network.torn_down == ["uid-1"]
    assert "uid-1" not in env.runtime.sandboxes
    assert env.api.deletes == [("pods", "default", "web", 0)]
    assert w.done


def test_removed_pod_cleaned_without_delete(env, loop):
    w = PodWorker(env.ctx, make_pod(containers=[c("app", "sleep")]))
    run(loop, w.sync_once())
    w.remove()
    run(loop, w.sync_once())
    assert not env.runtime.containers
    assert env.api.deletes == []
    assert w.done


def test_deletion_while_api_down_retries_confirm(env, loop):
    pod = make_pod(containers=[c("app", "sleep")])
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    pod2 = core_pb2.Pod()
    pod2.CopyFrom(pod)
    pod2.metadata.deletion_timestamp.GetCurrentTime()
    w.update(pod2)
    env.api.down = True
    run(loop, w.sync_once())
    assert not w.done and not env.runtime.containers
    env.api.down = False
    from proto import kinds
    env.api.put(kinds.wrap(pod2))
    run(loop, w.sync_once())
    assert w.done and env.api.deletes


def test_restart_counts_persist_across_workers(env, loop):
    pod = make_pod(containers=[c("app", "x")])
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    env.runtime.exit(cur.id, 1)
    run(loop, w.sync_once())
    (cur2,) = env.runtime.running()
    # the agent restarts: a new worker adopts the running container
    w2 = PodWorker(env.ctx, pod)
    run(loop, w2.sync_once())
    assert env.runtime.running() == [cur2]
    assert status_of(w2).container_statuses[0].restart_count == 1


def test_worker_task_wakes_on_update(env, loop):
    w = PodWorker(env.ctx, make_pod(containers=[c("app", "x")]))

    async def go() -> None:
        t = asyncio.ensure_future(w.run())
        deadline = loop.time() + 5
        while not env.runtime.running():
            assert loop.time() < deadline
            await asyncio.sleep(0)
        w.remove()
        await asyncio.wait_for(t, 5)

    run(loop, go())
    assert w.done and not env.runtime.containers


def test_network_not_ready_waits_and_keeps_adopted_containers(env, loop):
    pod = make_pod(containers=[c("app", "x")])
    env.network.is_ready = False
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    cs = status_of(w).container_statuses[0]
    assert cs.state.waiting.reason == "ContainerCreating"
    assert "pod CIDR" in cs.state.waiting.message
    assert not env.runtime.containers
    env.network.is_ready = True
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    # the agent restarts before the node's network is back: the running
    # container is adopted, nothing is reported until the pod IP is known
    env.network.is_ready = False
    w2 = PodWorker(env.ctx, pod)
    run(loop, w2.sync_once())
    assert w2.last_status is None and env.runtime.running() == [cur]
    env.network.is_ready = True
    run(loop, w2.sync_once())
    assert status_of(w2).phase == "Running" and status_of(w2).pod_ip == status_of(w).pod_ip
    assert env.runtime.running() == [cur]
