"""A pod worker's probes and the events it records."""

from __future__ import annotations

import asyncio

from agent.podsync.worker import PodWorker
from agent.ports import ExecResult
from proto import core_pb2

from .fakes import make_pod
from .workers import c, run, status_of


def test_liveness_failure_restarts(env, loop):
    probe = core_pb2.Probe(exec=core_pb2.ExecAction(command=["check"]), period_seconds=5,
                           failure_threshold=2)
    pod = make_pod(containers=[c("app", "sleep", liveness_probe=probe)])
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    (first,) = env.runtime.running()
    env.runtime.exec_results[("check",)] = ExecResult(1, b"dead")
    run(loop, w.sync_once())            # failure 1 (due at start)
    assert env.runtime.running() == [first]
    env.clock.advance(5)
    run(loop, w.sync_once())            # failure 2: killed
    assert first.id in [x[0] for x in env.runtime.stopped]
    run(loop, w.sync_once())            # restarted at once (first restart)
    (second,) = env.runtime.running()
    assert second.id != first.id
    cs = status_of(w).container_statuses[0]
    assert cs.restart_count == 1
    assert "failed liveness probe" in cs.last_state.terminated.message


def test_readiness_and_startup(env, loop):
    ready = core_pb2.Probe(exec=core_pb2.ExecAction(command=["ready"]), period_seconds=1,
                           success_threshold=2)
    startup = core_pb2.Probe(exec=core_pb2.ExecAction(command=["up"]), period_seconds=1,
                             failure_threshold=30)
    pod = make_pod(containers=[c("app", "sleep", readiness_probe=ready,
                                 startup_probe=startup)])
    env.runtime.exec_results[("up",)] = ExecResult(1)
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    run(loop, w.sync_once())
    cs = status_of(w).container_statuses[0]
    assert not cs.started and not cs.ready
    env.runtime.exec_results[("up",)] = ExecResult(0)
    env.clock.advance(1)
    run(loop, w.sync_once())
    cs = status_of(w).container_statuses[0]
    assert cs.started and not cs.ready
    env.clock.advance(1)
    run(loop, w.sync_once())            # readiness success 1 of 2
    assert not status_of(w).container_statuses[0].ready
    env.clock.advance(1)
    run(loop, w.sync_once())            # success 2 of 2
    s = status_of(w)
    assert s.container_statuses[0].ready
    ready_cond = next(x for x in s.conditions if x.type == "Ready")
    assert ready_cond.status == "True"
    t_ready = ready_cond.last_transition_time.seconds
    env.runtime.exec_results[("ready",)] = ExecResult(1)
    for _ in range(3):                  # default failure threshold 3
        env.clock.advance(1)
        run(loop, w.sync_once())
    s = status_of(w)
    assert not s.container_statuses[0].ready
    assert next(x for x in s.conditions if x.type == "Ready").status == "False"
    assert next(x for x in s.conditions if x.type == "PodScheduled"
                ).last_transition_time.seconds <= t_ready
    assert env.runtime.running()        # readiness never restarts


def test_events_recorded(env, loop):
    from agent.backoff import RetryBackoff
    from agent.podsync.events import EventRecorder

    env.ctx.events = EventRecorder(env.api, "n1", RetryBackoff(0.01, 0.02), clock=env.clock)
    probe = core_pb2.Probe(exec=core_pb2.ExecAction(command=["check"]), failure_threshold=1)
    pod = make_pod(containers=[c("app", "sleep", liveness_probe=probe)])
    env.runtime.exec_results[("check",)] = ExecResult(1, b"dead")
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())                # started
    run(loop, w.sync_once())                # probe fails once: killed

    async def drain() -> None:
        t = asyncio.ensure_future(env.ctx.events.run())
        deadline = loop.time() + 5
        while env.ctx.events.pending():
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        t.cancel()
        await asyncio.gather(t, return_exceptions=True)
    run(loop, drain())
    evs = [o.event for (r, _, _), o in env.api.objects.items() if r == "events"]
    reasons = sorted((e.type, e.reason) for e in evs)
    assert reasons == [("Normal", "Created"), ("Normal", "Killing"), ("Normal", "Pulled"),
                       ("Normal", "Started"), ("Warning", "Unhealthy")]
    assert next(e.message for e in evs if e.reason == "Pulled") == \
        'Container image "busybox" already present on machine'
    assert all(e.involved_object.uid == "uid-1" and e.source.host == "n1" for e in evs)
    assert "failed liveness probe" in next(e.message for e in evs if e.reason == "Killing")
