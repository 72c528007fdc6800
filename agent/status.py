"""Pod status from what the node observes: pure functions, no I/O.

The pod worker fills a `ContainerView` per container of the spec (the
runtime's latest and previous instance, the worker's waiting reason,
restart count, probe verdicts); `compute_status` turns them into a
`PodStatus` the way the kubelet does (phase, conditions with
lastTransitionTime kept while a condition does not change, container
statuses with state/lastState).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf import timestamp_pb2

from agent.ports import CREATED, EXITED, RUNNING, ContainerInfo
from proto import core_pb2

# waiting reasons
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
CRASH_LOOP = "CrashLoopBackOff"
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
CREATE_CONTAINER_ERROR = "CreateContainerError"

PENDING = "Pending"
RUNNING_PHASE = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"


@dataclass
class ContainerView:
    name: str
    image: str
    current: ContainerInfo | None = None
    previous: ContainerInfo | None = None
    waiting_reason: str = ""
    waiting_message: str = ""
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    kill_messages: dict[str, str] = field(default_factory=dict)  # id -> why the agent killed it


def ts(seconds: float | None) -> timestamp_pb2.Timestamp:
    t = timestamp_pb2.Timestamp()
    if seconds is not None:
        t.FromNanoseconds(int(seconds * 1e9))
    return t


def container_id(c: ContainerInfo) -> str:
    return f"corral://{c.id}"


def terminated_reason(c: ContainerInfo) -> str:
    if c.oom_killed:
        return "OOMKilled"
    if c.reason in ("StartError", "ContainerCannotRun"):
        return c.reason
    return "Completed" if c.exit_code == 0 else "Error"


def _terminated(c: ContainerInfo, message: str = "") -> core_pb2.ContainerState:
    message = message or (c.message if c.reason == "StartError" else "")
    exit_code = c.exit_code if c.exit_code is not None else 137
    return core_pb2.ContainerState(terminated=core_pb2.ContainerStateTerminated(
        exit_code=exit_code, signal=c.signal, reason=terminated_reason(c), message=message,
        started_at=ts(c.started_at or c.created_at), finished_at=ts(c.finished_at),
        container_id=container_id(c)))


def container_status(v: ContainerView) -> core_pb2.ContainerStatus:
    cs = core_pb2.ContainerStatus(name=v.name, image=v.image, restart_count=v.restart_count)
    cur = v.current
    last = v.previous
    if cur is not None:
        cs.container_id = container_id(cur)
        cs.image_id = cur.image_id
    if v.waiting_reason:
        cs.state.waiting.reason = v.waiting_reason
        cs.state.waiting.message = v.waiting_message
        if cur is not None and cur.state == EXITED:
            last = cur
    elif cur is None or cur.state == CREATED:
        cs.state.waiting.reason = CONTAINER_CREATING
    elif cur.state == RUNNING:
        cs.state.running.started_at.CopyFrom(ts(cur.started_at))
    else:
        cs.state.CopyFrom(_terminated(cur, v.kill_messages.get(cur.id, "")))
    if last is not None and last.state == EXITED:
        cs.last_state.CopyFrom(_terminated(last, v.kill_messages.get(last.id, "")))
    running = cur is not None and cur.state == RUNNING and not v.waiting_reason
    cs.ready = running and v.ready
    cs.started = running and v.started
    return cs


def _init_state(s: core_pb2.ContainerStatus) -> str:
    """ok | failed | pending, as the kubelet counts init containers."""
    if s.state.HasField("terminated"):
        return "ok" if s.state.terminated.exit_code == 0 else "failed"
    if s.state.HasField("waiting") and s.last_state.HasField("terminated") \
            and s.last_state.terminated.exit_code != 0:
        return "failed"
    return "pending"


def pod_phase(restart_policy: str, init: list[core_pb2.ContainerStatus],
              app: list[core_pb2.ContainerStatus]) -> str:
    policy = restart_policy or "Always"
    states = [_init_state(s) for s in init]
    if "failed" in states and policy == "Never":
        return FAILED
    if any(st != "ok" for st in states):
        return PENDING
    running = waiting = stopped = succeeded = 0
    for s in app:
        if s.state.HasField("running"):
            running += 1
        elif s.state.HasField("terminated"):
            stopped += 1
            if s.state.terminated.exit_code == 0:
                succeeded += 1
        elif s.last_state.HasField("terminated"):
            stopped += 1
            if s.last_state.terminated.exit_code == 0:
                succeeded += 1
        else:
            waiting += 1
    if waiting > 0:
        return PENDING
    if running > 0:
        return RUNNING_PHASE
    if stopped > 0:
        if policy == "Always":
            return RUNNING_PHASE
        if stopped == succeeded:
            return SUCCEEDED
        return RUNNING_PHASE if policy == "OnFailure" else FAILED
    return PENDING


def _condition(old: core_pb2.PodStatus, ctype: str, ok: bool, reason: str, message: str,
               now: float) -> core_pb2.PodCondition:
    status = "True" if ok else "False"
    c = core_pb2.PodCondition(type=ctype, status=status,
                              reason="" if ok else reason, message="" if ok else message)
    for o in old.conditions:
        if o.type == ctype and o.status == status:
            c.last_transition_time.CopyFrom(o.last_transition_time)
            break
    else:
        c.last_transition_time.CopyFrom(ts(float(int(now))))
    return c


def compute_status(pod: core_pb2.Pod, init: list[ContainerView], app: list[ContainerView],
                   pod_ip: str, host_ip: str, start_time: float | None,
                   now: float, failed: tuple[str, str] | None = None) -> core_pb2.PodStatus:
    """`failed`: (reason, message) of a pod the node failed on purpose (Evicted)."""
    old = pod.status
    st = core_pb2.PodStatus()
    st.init_container_statuses.extend(container_status(v) for v in init)
    st.container_statuses.extend(container_status(v) for v in app)
    st.phase = pod_phase(pod.spec.restart_policy, list(st.init_container_statuses),
                         list(st.container_statuses))
    if failed is not None:
        st.phase = FAILED
        st.reason, st.message = failed
    if host_ip:
        st.host_ip = host_ip
        st.host_ips.add(ip=host_ip)
    if pod_ip:
        st.pod_ip = pod_ip
        st.pod_ips.add(ip=pod_ip)
    if old.HasField("start_time"):
        st.start_time.CopyFrom(old.start_time)
    elif start_time is not None:
        st.start_time.CopyFrom(ts(float(int(start_time))))
    st.qos_class = old.qos_class or qos_class(pod.spec)
    terminal = st.phase in (SUCCEEDED, FAILED)
    init_done = all(_init_state(s) == "ok" for s in st.init_container_statuses)
    pending_init = [s.name for s in st.init_container_statuses if _init_state(s) != "ok"]
    unready = [s.name for s in st.container_statuses if not s.ready]
    conds = [
        _condition(old, "Initialized", init_done or terminal, "ContainersNotInitialized",
                   f"containers with incomplete status: [{' '.join(pending_init)}]", now),
        _condition(old, "Ready", not unready and not terminal,
                   "PodCompleted" if terminal else "ContainersNotReady",
                   "" if terminal else f"containers with unready status: [{' '.join(unready)}]",
                   now),
        _condition(old, "ContainersReady", not unready and not terminal,
                   "PodCompleted" if terminal else "ContainersNotReady",
                   "" if terminal else f"containers with unready status: [{' '.join(unready)}]",
                   now),
        _condition(old, "PodScheduled", True, "", "", now),
    ]
    st.conditions.extend(conds)
    return st


def qos_class(spec: core_pb2.PodSpec) -> str:
    cs = list(spec.containers) + list(spec.init_containers)
    if all(not c.resources.limits and not c.resources.requests for c in cs):
        return "BestEffort"
    guaranteed = True
    for c in cs:
        for r in ("cpu", "memory"):
            lim = c.resources.limits.get(r)
            req = c.resources.requests.get(r, lim)
            if not lim or req != lim:
                guaranteed = False
    return "Guaranteed" if guaranteed else "Burstable"


def status_equal(a: core_pb2.PodStatus, b: core_pb2.PodStatus) -> bool:
    return bool(a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True))
