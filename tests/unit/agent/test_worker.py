"""A pod worker's passes: starts, images, restarts, CrashLoopBackOff, init containers."""

from __future__ import annotations

from agent.podsync.worker import PodWorker
from proto import core_pb2

from .fakes import make_pod
from .workers import c, run, status_of


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
    s = status_of(w)
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
    cs = status_of(w).container_statuses[0]
    assert cs.state.waiting.reason == "ErrImagePull"
    assert "manifest unknown" in cs.state.waiting.message
    assert status_of(w).phase == "Pending"
    n = len(env.images.pulls)
    env.clock.advance(1)
    run(loop, w.sync_once())
    assert len(env.images.pulls) == n            # backing off: no new pull
    cs = status_of(w).container_statuses[0]
    assert cs.state.waiting.reason == "ImagePullBackOff"
    assert "manifest unknown" in cs.state.waiting.message
    env.clock.advance(10)
    del env.images.fail["nope"]
    env.images.add("nope")
    run(loop, w.sync_once())
    assert status_of(w).container_statuses[0].state.HasField("running")


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
            cs = status_of(w).container_statuses[0]
            assert cs.state.waiting.reason == "CrashLoopBackOff"
            assert cs.last_state.terminated.exit_code == 1
            assert cs.last_state.terminated.reason == "Error"
            assert status_of(w).phase == "Running"
            env.clock.advance(1)
        delays.append(env.clock() - exit_at)
        starts.append(env.clock())
    # first restart at once, then the 10 s window doubling (measured from the
    # previous restart), capped at 300 s
    assert delays[0] == 0
    assert [round(d) for d in delays[1:]] == [9, 19, 39, 79, 159, 299]
    assert status_of(w).container_statuses[0].restart_count == 7
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
        assert status_of(w).phase == phase, (policy, code)
        if not restarted:
            run(loop, w.sync_once())        # finished: the pod IP is given back
            assert uid in env.network.torn_down and uid not in env.network.pods
            assert status_of(w).pod_ip and env.runtime.by_name(uid, "app")
            t = status_of(w).container_statuses[0].state.terminated
            assert t.exit_code == code
            assert t.reason == ("Completed" if code == 0 else "Error")
            assert {x.type: x.reason for x in status_of(w).conditions}["Ready"] == \
                "PodCompleted"


def test_oomkilled_reason(env, loop):
    w = PodWorker(env.ctx, make_pod(containers=[c("app", "x")], restart_policy="Never"))
    run(loop, w.sync_once())
    (cur,) = env.runtime.running()
    env.runtime.exit(cur.id, 137, oom=True)
    run(loop, w.sync_once())
    assert status_of(w).container_statuses[0].state.terminated.reason == "OOMKilled"
    assert status_of(w).phase == "Failed"


def test_init_containers_in_order(env, loop):
    pod = make_pod(init=[c("i1", "a"), c("i2", "b")], containers=[c("app", "sleep")])
    w = PodWorker(env.ctx, pod)
    run(loop, w.sync_once())
    assert [x.name for x in env.runtime.running()] == ["i1"]
    s = status_of(w)
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
    assert status_of(w).init_container_statuses[1].restart_count == 1
    (i2,) = env.runtime.running()
    env.runtime.exit(i2.id, 0)
    run(loop, w.sync_once())
    assert [x.name for x in env.runtime.running()] == ["app"]
    s = status_of(w)
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
    assert status_of(w).phase == "Failed"
    run(loop, w.sync_once())
    assert not env.runtime.running()


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
    assert status_of(w).phase == "Running"
    (second,) = env.runtime.running()
    assert second.image == "busybox:2"
    cs = status_of(w).container_statuses[0]
    assert cs.restart_count == 1 and "definition changed" in cs.last_state.terminated.message
