from __future__ import annotations

import asyncio
from typing import Any

from agent.podsync.worker import PodWorker
from agent.ports import ExecResult
from proto import core_pb2, meta_pb2

from .fakes import make_pod


def _st(w: PodWorker) -> core_pb2.PodStatus:
    assert w.last_status is not None
    return w.last_status


def run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


def c(name: str, *command: str, image: str = "busybox", **kw: Any) -> core_pb2.Container:
    return core_pb2.Container(name=name, image=image, command=list(command), **kw)


def test_pod_starts_and_runs(env, loop):
    pod = make_pod(containers=[c("app", "sleep", "100")])
    env_var = pod.spec.containers[0].env.add(name="POD_IP")
    env_var.value_from.field_ref.field_path = "status.podIP"
    pod.spec.containers[0].env.add(name="NODE").value_from.field_ref.field_path = "spec.nodeName"
    pod.spec.containers[0].env.add(name="X", value="a-$(NODE)-$$(NODE)")
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    assert len(env.runtime.running()) == 1
    cont = env.runtime.running()[0]
    spec = env.runtime.specs[cont.id]
    assert spec.argv == ["sleep", "100"]
    d = dict(spec.env)
    assert d["POD_IP"] == "10.1.0.2"
    assert d["NODE"] == "n1"
    assert d["X"] == "a-n1-$(NODE)"
    s = _st(w)
    assert s.phase == "Running"
    assert s.pod_ip == "10.1.0.2" and s.host_ip == "192.168.1.10"
    cs = s.container_statuses[0]
    assert cs.state.HasField("running") and cs.ready and cs.started
    assert cs.container_id == f"corral://{cont.id}"
    conds = {x.type: x.status for x in s.conditions}
    assert conds == {"PodScheduled": "True", "Initialized": "True",
                     "ContainersReady": "True", "Ready": "True"}
    # a second pass changes nothing
    run(loop, w.sync_once())
    assert len(env.runtime.containers) == 1


def test_image_entrypoint_cmd_rules(env, loop):
    env.images.add("img", entrypoint=["/ep"], cmd=["c1"])
    for command, args, want in [([], [], ["/ep", "c1"]), (["x"], [], ["x"]),
                                ([], ["a"], ["/ep", "a"]), (["x"], ["a"], ["x", "a"])]:
        env.runtime.containers.clear()
        pod = make_pod(uid=f"u-{len(want)}-{command}-{args}",
                       containers=[c("app", *command, image="img", args=args)])
        w = PodWorker(env.ctx, pod)
        run(loop, w.sync_once())
        (cont,) = env.runtime.running()
        assert env.runtime.specs[cont.id].argv == want


def test_image_pull_error_and_backoff(env, loop):
    env.images.fail["nope"] = "manifest unknown: nope:latest"
    pod = make_pod(containers=[c("app", image="nope")])
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    cs = _st(w).container_statuses[0]
    assert cs.state.waiting.reason == "ErrImagePull"
    assert "manifest unknown" in cs.state.waiting.message
    assert _st(w).phase == "Pending"
    n = len(env.images.pulls)
    env.clock.advance(1)
    run(loop, w.sync_once())
    assert len(env.images.pulls) == n            # backing off: no new pull
    cs = _st(w).container_statuses[0]
    assert cs.state.waiting.reason == "ImagePullBackOff"
    assert "manifest unknown" in cs.state.waiting.message
    env.clock.advance(10)
    del env.images.fail["nope"]
    env.images.add("nope")
    run(loop, w.sync_once())
    assert _st(w).container_statuses[0].state.HasField("running")


def test_crashloop_backoff_timing(env, loop):
    pod = make_pod(containers=[c("app", "false")])
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    starts = [env.clock()]
    delays = []
    for _ in range(7):
        (cur,) = env.runtime.running()
        env.clock.advance(1)
        env.runtime.exit(cur.id, 1)
        exit_at = env.clock()
        # wait in 1 s steps until the worker restarts it
        while True:
            run(loop, w.sync_once())
            if env.runtime.running():
                break
            cs = _st(w).container_statuses[0]
            assert cs.state.waiting.reason == "CrashLoopBackOff"
            assert cs.last_state.terminated.exit_code == 1
            assert cs.last_state.terminated.reason == "Error"
            assert _st(w).phase == "Running"
            env.clock.advance(1)
        delays.append(env.clock() - exit_at)
        starts.append(env.clock())
    # first restart at once, then the 10 s window doubling (measured from the
    # previous restart), capped at 300 s
    assert delays[0] == 0
    assert [round(d) for d in delays[1:]] == [9, 19, 39, 79, 159, 299]
    assert _st(w).container_statuses[0].restart_count == 7
    # only the current and the previous instance are kept
    assert len(env.runtime.by_name("uid-1", "app")) == 2


def test_crashloop_resets_after_long_run(env, loop):
    pod = make_pod(containers=[c("app", "x")])
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    for _ in range(3):                  # build up back-off
        (cur,) = env.runtime.running()
        env.runtime.exit(cur.id, 1)
        while not env.runtime.running():
            env.clock.advance(1)
            run(loop, w.sync_once())
    assert env.ctx.crash_backoff.delay("uid-1/app") == 40
    (cur,) = env.runtime.running()
    env.clock.advance(601)              # ran more than 10 minutes
    env.runtime.exit(cur.id, 1)
    run(loop, w.sync_once())
    assert env.runtime.running()        # restarted at once
    assert env.ctx.crash_backoff.delay("uid-1/app") == 10


def test_restart_policies(env, loop):
    for policy, code, restarted, phase in [
        ("Never", 0, False, "Succeeded"), ("Never", 3, False, "Failed"),
        ("OnFailure", 0, False, "Succeeded"), ("OnFailure", 3, True, "Running"),
        ("Always", 0, True, "Running"),
    ]:
        env.runtime.containers.clear()
        uid = f"{policy}-{code}"
        w = PodWorker(env.ctx, make_pod(uid=uid, containers=[c("app", "x")],
                                        restart_policy=policy))
        run(loop, w.sync_once())
        (cur,) = env.runtime.running()
        env.runtime.exit(cur.id, code)
        run(loop, w.sync_once())
        assert bool(env.runtime.running()) == restarted, (policy, code)
        assert _st(w).phase == phase, (policy, code)
        if not restarted:
            run(loop, w.sync_once())        # finished: the pod IP is given back
            assert uid in env.network.torn_down and uid not in env.network.pods
            assert _st(w).pod_ip and env.runtime.by_name(uid, "app")
            t = _st(w).container_statuses[0].state.terminated
            assert t.exit_code == code
            assert t.reason == ("Completed" if code == 0 else "Error")
            assert {x.type: x.reason for x in _st(w).conditions}["Ready"] == \
                "PodCompleted"


def test_oomkilled_reason(env, loop):
    w = PodWorker(env.ctx, make_pod(containers=[c("app", "x")], restart_policy="Never"))
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    env.runtime.exit(cur.id, 137, oom=True)
    run(loop, w.sync_once())
    assert _st(w).container_statuses[0].state.terminated.reason == "OOMKilled"
    assert _st(w).phase == "Failed"


def test_init_containers_in_order(env, loop):
    pod = make_pod(init=[c("i1", "a"), c("i2", "b")], containers=[c("app", "sleep")])
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    assert [x.name for x in env.runtime.running()] == ["i1"]
    s = _st(w)
    assert s.phase == "Pending"
    assert s.container_statuses[0].state.waiting.reason == "PodInitializing"
    init_cond = next(x for x in s.conditions if x.type == "Initialized")
    assert init_cond.status == "False" and "i1 i2" in init_cond.message
    (i1,) = env.runtime.running()
    env.runtime.exit(i1.id, 0)
    run(loop, w.sync_once())
    assert [x.name for x in env.runtime.running()] == ["i2"]
    (i2,) = env.runtime.running()
    env.runtime.exit(i2.id, 1)          # fails: restarted (policy Always)
    run(loop, w.sync_once())
    assert [x.name for x in env.runtime.running()] == ["i2"]
    assert _st(w).init_container_statuses[1].restart_count == 1
    (i2,) = env.runtime.running()
    env.runtime.exit(i2.id, 0)
    run(loop, w.sync_once())
    assert [x.name for x in env.runtime.running()] == ["app"]
    s = _st(w)
    assert s.phase == "Running"
    assert [x.state.terminated.reason for x in s.init_container_statuses] == \
        ["Completed", "Completed"]
    assert next(x for x in s.conditions if x.type == "Initialized").status == "True"


def test_init_failure_with_never_fails_pod(env, loop):
    pod = make_pod(init=[c("i1", "a")], containers=[c("app", "sleep")],
                   restart_policy="Never")
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    (i1,) = env.runtime.running()
    env.runtime.exit(i1.id, 2)
    run(loop, w.sync_once())
    assert not env.runtime.running()
    assert _st(w).phase == "Failed"
    run(loop, w.sync_once())
    assert not env.runtime.running()


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
    cs = _st(w).container_statuses[0]
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
    cs = _st(w).container_statuses[0]
    assert not cs.started and not cs.ready
    env.runtime.exec_results[("up",)] = ExecResult(0)
    env.clock.advance(1)
    run(loop, w.sync_once())
    cs = _st(w).container_statuses[0]
    assert cs.started and not cs.ready
    env.clock.advance(1)
    run(loop, w.sync_once())            # readiness success 1 of 2
    assert not _st(w).container_statuses[0].ready
    env.clock.advance(1)
    run(loop, w.sync_once())            # success 2 of 2
    s = _st(w)
    assert s.container_statuses[0].ready
    ready_cond = next(x for x in s.conditions if x.type == "Ready")
    assert ready_cond.status == "True"
    t_ready = ready_cond.last_transition_time.seconds
    env.runtime.exec_results[("ready",)] = ExecResult(1)
    for _ in range(3):                  # default failure threshold 3
        env.clock.advance(1)
        run(loop, w.sync_once())
    s = _st(w)
    assert not s.container_statuses[0].ready
    assert next(x for x in s.conditions if x.type == "Ready").status == "False"
    assert next(x for x in s.conditions if x.type == "PodScheduled"
                ).last_transition_time.seconds <= t_ready
    assert env.runtime.running()        # readiness never restarts


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
    assert _st(w2).container_statuses[0].restart_count == 1


def test_create_container_error(env, loop):
    env.runtime.fail_start = "exec format error"
    w = PodWorker(env.ctx, make_pod(containers=[c("app", "x")]))
    run(loop, w.sync_once())
    cs = _st(w).container_statuses[0]
    assert cs.state.waiting.reason == "CreateContainerError"
    assert "exec format error" in cs.state.waiting.message


def test_unsupported_field_ref_is_create_error(env, loop):
    cont = c("app", "x")
    cont.env.add(name="A").value_from.field_ref.field_path = "spec.nope"
    w = PodWorker(env.ctx, make_pod(containers=[cont]))
    run(loop, w.sync_once())
    assert _st(w).container_statuses[0].state.waiting.reason == "CreateContainerError"


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


_ = meta_pb2


def test_network_not_ready_waits_and_keeps_adopted_containers(env, loop):
    pod = make_pod(containers=[c("app", "x")])
    env.network.is_ready = False
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    cs = _st(w).container_statuses[0]
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
    assert _st(w2).phase == "Running" and _st(w2).pod_ip == _st(w).pod_ip
    assert env.runtime.running() == [cur]


def test_volume_mounts(env, loop, tmp_path):
    cont = c("app", "x")
    cont.volume_mounts.add(name="scratch", mount_path="/scratch")
    cont.volume_mounts.add(name="host", mount_path="/h", read_only=True, sub_path="sub")
    pod = make_pod(containers=[cont])
    pod.spec.volumes.add(name="scratch").empty_dir.SetInParent()
    hp = pod.spec.volumes.add(name="host").host_path
    hp.path = str(tmp_path / "hp")
    hp.type = "DirectoryOrCreate"
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    mounts = env.runtime.specs[cur.id].mounts
    assert [(m.container_path, m.host_path, m.read_only) for m in mounts] == [
        ("/scratch", "/vol/uid-1/scratch", False), ("/h", str(tmp_path / "hp" / "sub"), True)]
    assert (tmp_path / "hp" / "sub").is_dir()


def test_missing_volume_is_create_error(env, loop):
    cont = c("app", "x")
    cont.volume_mounts.add(name="nope", mount_path="/x")
    w = PodWorker(env.ctx, make_pod(containers=[cont]))
    run(loop, w.sync_once())
    cs = _st(w).container_statuses[0]
    assert cs.state.waiting.reason == "CreateContainerError" and "nope" in cs.state.waiting.message


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


def test_image_change_restarts_container(env, loop):
    env.images.add("busybox:2")
    pod = make_pod(containers=[c("app", "x")], restart_policy="Never")
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    (first,) = env.runtime.running()
    pod2 = core_pb2.Pod()
    pod2.CopyFrom(pod)
    pod2.spec.containers[0].image = "busybox:2"
    w.update(pod2)
    run(loop, w.sync_once())            # killed, started again on the new image despite Never
    assert first.id in [x[0] for x in env.runtime.stopped]
    assert _st(w).phase == "Running"
    (second,) = env.runtime.running()
    assert second.image == "busybox:2"
    cs = _st(w).container_statuses[0]
    assert cs.restart_count == 1 and "definition changed" in cs.last_state.terminated.message
