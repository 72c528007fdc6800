"""The pod columns of `corral get`: STATUS, READY and RESTARTS computed like kubectl's
printPod."""

from __future__ import annotations

from proto import api_pb2, core_pb2
from proto.columns.base import none_if_empty
from proto.columns.humanize import age, human_duration, is_set, seconds_of

NODE_UNREACHABLE_REASON = "NodeLost"


def pod_status(pod: core_pb2.Pod) -> str:
    """The STATUS column of `kubectl get pods` (printPod)."""
    reason = pod.status.reason or pod.status.phase or "Pending"
    initializing = False
    n_init = len(pod.spec.init_containers)
    for i, cs in enumerate(pod.status.init_container_statuses):
        st = cs.state
        if st.HasField("terminated") and st.terminated.exit_code == 0:
            continue
        if st.HasField("terminated"):
            t = st.terminated
            if not t.reason:
                reason = f"Init:Signal:{t.signal}" if t.signal else f"Init:ExitCode:{t.exit_code}"
            else:
                reason = "Init:" + t.reason
        elif (st.HasField("waiting") and st.waiting.reason
              and st.waiting.reason != "PodInitializing"):
            reason = "Init:" + st.waiting.reason
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(pod.status.container_statuses):
            st = cs.state
            if st.HasField("waiting") and st.waiting.reason:
                reason = st.waiting.reason
            elif st.HasField("terminated") and st.terminated.reason:
                reason = st.terminated.reason
            elif st.HasField("terminated"):
                t = st.terminated
                reason = f"Signal:{t.signal}" if t.signal else f"ExitCode:{t.exit_code}"
            elif cs.ready and st.HasField("running"):
                has_running = True
        if reason == "Completed" and has_running:
            ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
            reason = "Running" if ready else "NotReady"
    if is_set(pod.metadata.deletion_timestamp):
        reason = "Unknown" if pod.status.reason == NODE_UNREACHABLE_REASON else "Terminating"
    return reason


def pod_ready(pod: core_pb2.Pod) -> str:
    ready = sum(1 for cs in pod.status.container_statuses if cs.ready)
    total = len(pod.spec.containers) or len(pod.status.container_statuses)
    return f"{ready}/{total}"


def pod_restarts(pod: core_pb2.Pod, now: float) -> str:
    """'2' or, like kubectl 1.22+, '2 (35s ago)' from the last termination."""
    init = any(
        not (cs.state.HasField("terminated") and cs.state.terminated.exit_code == 0)
        for cs in pod.status.init_container_statuses
    )
    statuses = pod.status.init_container_statuses if init else pod.status.container_statuses
    restarts = sum(cs.restart_count for cs in statuses)
    last = 0.0
    for cs in statuses:
        if cs.last_state.HasField("terminated") and is_set(cs.last_state.terminated.finished_at):
            last = max(last, seconds_of(cs.last_state.terminated.finished_at))
    if restarts and last:
        return f"{restarts} ({human_duration(now - last)} ago)"
    return str(restarts)


def pod_row(obj: api_pb2.Object, now: float) -> list[str]:
    p = obj.pod
    return [p.metadata.name, pod_ready(p), pod_status(p), pod_restarts(p, now),
            age(p.metadata.creation_timestamp, now)]


def pod_wide(obj: api_pb2.Object, now: float) -> list[str]:
    p = obj.pod
    return [none_if_empty(p.status.pod_ip), none_if_empty(p.spec.node_name),
            none_if_empty(p.status.nominated_node_name), "<none>"]
