"""What the Job controller (controllers/job.py) computes without writing: its pods
sorted by state, completion indexes, the pod failure policy, the back-off before a
failed pod's replacement, conditions, and the pods it creates (pure functions).

Kubernetes' conventions are kept: the tracking finalizer, the completion-index
annotation and label, JOB_COMPLETION_INDEX, the condition types and reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from controlplane.objects import now_ts, owner_ref_to, ts_seconds
from proto import api_pb2, batch_pb2, core_pb2, meta_pb2

from . import podutil

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"


def parallelism(job: batch_pb2.Job) -> int:
    return job.spec.parallelism if job.spec.HasField("parallelism") else 1


def indexed(job: batch_pb2.Job) -> bool:
    return job.spec.completion_mode == "Indexed"


def index_of(pod: core_pb2.Pod) -> int | None:
    raw = pod.metadata.annotations.get(INDEX_KEY, pod.metadata.labels.get(INDEX_KEY, ""))
    return int(raw) if raw.isdigit() else None


def finished_at(pod: core_pb2.Pod) -> float:
    """When a pod ended: its latest container finish, else its last condition change."""
    times = [ts_seconds(s.state.terminated.finished_at)
             for s in [*pod.status.init_container_statuses, *pod.status.container_statuses]
             if s.state.HasField("terminated")]
    times += [ts_seconds(c.last_transition_time) for c in pod.status.conditions]
    return max(times, default=ts_seconds(pod.metadata.creation_timestamp))


@dataclass
class PodsView:
    """A Job's pods by state. A pod being deleted that did not succeed counts as failed
    (it will not finish its work; its replacement starts at once)."""

    active: list[core_pb2.Pod] = field(default_factory=list)
    succeeded: list[core_pb2.Pod] = field(default_factory=list)
    failed: list[core_pb2.Pod] = field(default_factory=list)
    terminating: int = 0

    @staticmethod
    def of(pods: Iterable[core_pb2.Pod]) -> PodsView:
        v = PodsView()
        for p in pods:
            phase = p.status.phase
            deleting = p.metadata.HasField("deletion_timestamp")
            if phase == "Succeeded":
                v.succeeded.append(p)
            elif phase == "Failed":
                v.failed.append(p)
            elif deleting:
                v.failed.append(p)
                v.terminating += 1
            else:
                v.active.append(p)
        return v


# ---- completion indexes ("1,3-5") ------------------------------------------------

def parse_indexes(text: str) -> set[int]:
    out: set[int] = set()
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        if lo.isdigit() and (not hi or hi.isdigit()):
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


def format_indexes(values: Iterable[int]) -> str:
    parts: list[str] = []
    start = prev = -2
    for i in sorted(set(values)):
        if i != prev + 1:
            if start >= 0:
                parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = i
        prev = i
    if start >= 0:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


# ---- failure policy ---------------------------------------------------------------

@dataclass(frozen=True)
class PolicyMatch:
    action: str        # FailJob, Ignore, Count
    message: str


def _exit_code_match(pod: core_pb2.Pod, r: batch_pb2.PodFailurePolicyOnExitCodesRequirement
                     ) -> core_pb2.ContainerStatus | None:
    for s in [*pod.status.init_container_statuses, *pod.status.container_statuses]:
        if not s.state.HasField("terminated") or s.state.terminated.exit_code == 0:
            continue
        if r.HasField("container_name") and r.container_name != s.name:
            continue
        code = s.state.terminated.exit_code
        if (code in r.values) == (r.operator == "In"):
            return s
    return None


def match_failure_policy(job: batch_pb2.Job, pod: core_pb2.Pod) -> PolicyMatch | None:
    """The first rule of spec.podFailurePolicy matching a failed pod (None: no rule)."""
    name = f"{pod.metadata.namespace}/{pod.metadata.name}"
    for i, rule in enumerate(job.spec.pod_failure_policy.rules):
        if rule.HasField("on_exit_codes"):
            s = _exit_code_match(pod, rule.on_exit_codes)
            if s is not None:
                return PolicyMatch(rule.action, f"Container {s.name} for pod {name} failed "
                                                f"with exit code {s.state.terminated.exit_code}"
                                                f" matching {rule.action} rule at index {i}")
        for pat in rule.on_pod_conditions:
            if any(c.type == pat.type and c.status == (pat.status or "True")
                   for c in pod.status.conditions):
                return PolicyMatch(rule.action, f"Pod {name} has condition {pat.type} "
                                                f"matching {rule.action} rule at index {i}")
    return None


# ---- back-off -----------------------------------------------------------------------

def backoff_until(failed: list[core_pb2.Pod], succeeded: list[core_pb2.Pod],
                  initial: float, maximum: float) -> float:
    """When a replacement may start: the last failure + initial * 2^(n-1), n the failures
    since the last success (Kubernetes' backoff record, rebuilt from the pods: nothing
    kept in memory is lost with a control plane restart)."""
    last_success = max((finished_at(p) for p in succeeded), default=0.0)
    times = sorted(t for t in (finished_at(p) for p in failed) if t >= last_success)
    if not times:
        return 0.0
    return float(times[-1] + min(initial * 2.0 ** (len(times) - 1), maximum))


def restarts(pods: Iterable[core_pb2.Pod]) -> int:
    return sum(s.restart_count for p in pods
               for s in [*p.status.init_container_statuses, *p.status.container_statuses])


# ---- conditions ------------------------------------------------------------------

def condition(status: batch_pb2.JobStatus, type_: str) -> batch_pb2.JobCondition | None:
    return next((c for c in status.conditions if c.type == type_), None)


def is_true(status: batch_pb2.JobStatus, type_: str) -> bool:
    c = condition(status, type_)
    return c is not None and c.status == "True"


def finished(status: batch_pb2.JobStatus) -> bool:
    return is_true(status, "Complete") or is_true(status, "Failed")


def set_condition(status: batch_pb2.JobStatus, type_: str, st: str, reason: str,
                  message: str) -> bool:
    """Set (or change) a condition; False when it already says so."""
    old = condition(status, type_)
    if old is not None and (old.status, old.reason, old.message) == (st, reason, message):
        return False
    now = now_ts()
    if old is None:
        old = status.conditions.add(type=type_)
        old.last_transition_time.CopyFrom(now)
    elif old.status != st:
        old.last_transition_time.CopyFrom(now)
    old.status, old.reason, old.message = st, reason, message
    old.last_probe_time.CopyFrom(now)
    return True


def uncounted(st: batch_pb2.JobStatus) -> bool:
    un = st.uncounted_terminated_pods
    return bool(un.succeeded or un.failed)


def failure_of(job: batch_pb2.Job, st: batch_pb2.JobStatus, active: list[core_pb2.Pod],
               fail_job: PolicyMatch | None, now: float) -> tuple[str, str] | None:
    """(reason, message) when the Job must fail: a FailJob rule matched, more failures
    than backoffLimit (with OnFailure: container restarts count), or past
    activeDeadlineSeconds. A Job already failing keeps its reason."""
    target = condition(st, "FailureTarget")
    if target is not None and target.status == "True":
        return target.reason, target.message
    if fail_job is not None:
        return "PodFailurePolicy", fail_job.message
    failed = st.failed + len(st.uncounted_terminated_pods.failed)
    limit = job.spec.backoff_limit if job.spec.HasField("backoff_limit") else 6
    if job.spec.template.spec.restart_policy == "OnFailure":
        failed += restarts(active)
        exceeded = failed > 0 if limit == 0 else failed >= limit
    else:
        exceeded = failed > limit
    if exceeded:
        return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    if job.spec.HasField("active_deadline_seconds") and st.HasField("start_time") and \
            now - ts_seconds(st.start_time) >= job.spec.active_deadline_seconds:
        return "DeadlineExceeded", "Job was active longer than specified deadline"
    return None


def complete(job: batch_pb2.Job, st: batch_pb2.JobStatus) -> bool:
    """Enough successes: every index (Indexed), `completions`, or (without completions)
    one."""
    if indexed(job):
        return len(parse_indexes(st.completed_indexes)) >= job.spec.completions
    succeeded = st.succeeded + len(st.uncounted_terminated_pods.succeeded)
    if job.spec.HasField("completions"):
        return succeeded >= job.spec.completions
    return succeeded > 0


# ---- new pods -----------------------------------------------------------------------

def new_pod(job_obj: api_pb2.Object, index: int | None) -> api_pb2.Object:
    """A pod of the Job's template, owned and tracked by it; with an index (Indexed
    mode) it carries the index annotation and label, JOB_COMPLETION_INDEX and the
    hostname <job>-<index>."""
    job = job_obj.job
    t = job.spec.template
    name = job.metadata.name
    meta = meta_pb2.ObjectMeta(namespace=job.metadata.namespace,
                               generate_name=f"{name}-" if index is None
                               else f"{name}-{index}-")
    meta.labels.update(t.metadata.labels)
    meta.annotations.update(t.metadata.annotations)
    meta.owner_references.append(owner_ref_to(job_obj))
    meta.finalizers.append(TRACKING_FINALIZER)
    pod = core_pb2.Pod(api_version="v1", kind="Pod", metadata=meta)
    pod.spec.CopyFrom(t.spec)
    if index is not None:
        pod.metadata.annotations[INDEX_KEY] = str(index)
        pod.metadata.labels[INDEX_KEY] = str(index)
        if not pod.spec.hostname:
            pod.spec.hostname = f"{name}-{index}"[:63].rstrip("-")
        for c in [*pod.spec.init_containers, *pod.spec.containers]:
            if not any(e.name == INDEX_ENV for e in c.env):
                e = c.env.add(name=INDEX_ENV)
                e.value_from.field_ref.field_path = f"metadata.annotations['{INDEX_KEY}']"
    return api_pb2.Object(pod=pod)


def victims(active: list[core_pb2.Pod], n: int) -> list[core_pb2.Pod]:
    return podutil.pods_to_delete(active, n)
