from __future__ import annotations

from agent import status as st
from agent.ports import EXITED, RUNNING, ContainerInfo

from .fakes import make_pod


def info(state: str, code: int | None = None, cid: str = "c1", attempt: int = 0) -> ContainerInfo:
    return ContainerInfo(id=cid, pod_uid="u", name="app", attempt=attempt, state=state,
                         exit_code=code, started_at=10.0, finished_at=20.0 if code is not None
                         else None)


def phase(policy: str, init: list[st.ContainerView], app: list[st.ContainerView]) -> str:
    pod = make_pod(restart_policy=policy)
    return st.compute_status(pod, init, app, "10.0.0.2", "1.2.3.4", 1.0, 100.0).phase


def v(name: str, cur: ContainerInfo | None = None, prev: ContainerInfo | None = None,
      waiting: str = "") -> st.ContainerView:
    return st.ContainerView(name=name, image="busybox", current=cur, previous=prev,
                            waiting_reason=waiting)


def test_phases() -> None:
    assert phase("Always", [], [v("a")]) == "Pending"
    assert phase("Always", [], [v("a", info(RUNNING))]) == "Running"
    assert phase("Always", [], [v("a", info(EXITED, 1), waiting="CrashLoopBackOff")]) == \
        "Running"
    assert phase("Never", [], [v("a", info(EXITED, 0)), v("b", info(EXITED, 0))]) == \
        "Succeeded"
    assert phase("Never", [], [v("a", info(EXITED, 0)), v("b", info(EXITED, 2))]) == "Failed"
    assert phase("Never", [], [v("a", info(RUNNING)), v("b", info(EXITED, 2))]) == "Running"
    assert phase("OnFailure", [], [v("a", info(EXITED, 2), waiting="CrashLoopBackOff")]) == \
        "Running"
    assert phase("Always", [], [v("a", waiting="ErrImagePull")]) == "Pending"
    # init containers
    assert phase("Always", [v("i", info(RUNNING))], [v("a", waiting="PodInitializing")]) == \
        "Pending"
    assert phase("Never", [v("i", info(EXITED, 1))], [v("a")]) == "Failed"
    assert phase("Always", [v("i", info(EXITED, 1), waiting="CrashLoopBackOff")], [v("a")]) == \
        "Pending"
    assert phase("Always", [v("i", info(EXITED, 0))], [v("a", info(RUNNING))]) == "Running"


def test_container_status_fields() -> None:
    prev = info(EXITED, 1, cid="old", attempt=0)
    cur = info(RUNNING, cid="new", attempt=1)
    view = v("a", cur, prev)
    view.restart_count = 1
    view.ready = view.started = True
    cs = st.container_status(view)
    assert cs.state.running.started_at.seconds == 10
    assert cs.last_state.terminated.exit_code == 1
    assert cs.last_state.terminated.reason == "Error"
    assert cs.last_state.terminated.container_id == "corral://old"
    assert cs.container_id == "corral://new"
    assert cs.ready and cs.started and cs.restart_count == 1
    # waiting with a message
    w = st.container_status(st.ContainerView("a", "x", waiting_reason="ErrImagePull",
                                             waiting_message="denied"))
    assert (w.state.waiting.reason, w.state.waiting.message) == ("ErrImagePull", "denied")
    assert not w.ready
    # nothing yet: ContainerCreating
    assert st.container_status(st.ContainerView("a", "x")).state.waiting.reason == \
        "ContainerCreating"


def test_conditions_keep_transition_time() -> None:
    pod = make_pod()
    r = v("a", info(RUNNING))
    r.ready = True
    s1 = st.compute_status(pod, [], [r], "ip", "h", 1.0, 100.0)
    pod.status.CopyFrom(s1)
    s2 = st.compute_status(pod, [], [r], "ip", "h", 1.0, 200.0)
    c1 = {c.type: c for c in s1.conditions}
    c2 = {c.type: c for c in s2.conditions}
    assert c2["Ready"].last_transition_time == c1["Ready"].last_transition_time
    assert st.status_equal(s1, s2)
    pod.status.CopyFrom(s2)
    r.ready = False
    s3 = st.compute_status(pod, [], [r], "ip", "h", 1.0, 300.0)
    ready = {c.type: c for c in s3.conditions}["Ready"]
    assert ready.status == "False" and ready.last_transition_time.seconds == 300
    assert ready.reason == "ContainersNotReady" and "[a]" in ready.message
    assert s3.pod_ip == "ip" and s3.pod_ips[0].ip == "ip" and s3.host_ip == "h"
    assert s3.start_time.seconds == 1
    assert s3.qos_class == "BestEffort"


def test_start_error_reason() -> None:
    c = info(EXITED, 128)
    c.reason, c.message = "StartError", 'exec: "nope": not found'
    cs = st.container_status(v("a", c))
    assert cs.state.terminated.reason == "StartError"
    assert "not found" in cs.state.terminated.message
