"""The Job, CronJob, DaemonSet, StatefulSet and ControllerRevision columns of
`corral get`, as kubectl prints them."""

from __future__ import annotations

from proto import api_pb2, batch_pb2
from proto.columns.base import none_if_empty
from proto.columns.humanize import age, human_duration, is_set, seconds_of
from proto.columns.workloads import containers_images, format_selector


def job_status(job: batch_pb2.Job) -> str:
    """kubectl's STATUS of a Job: the condition that says most, else Running."""
    if job.metadata.HasField("deletion_timestamp"):
        return "Terminating"
    true = {c.type for c in job.status.conditions if c.status == "True"}
    for cond in ("Failed", "Complete", "Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if cond in true:
            return cond
    return "Running"


def completions(job: batch_pb2.Job) -> str:
    s = job.spec
    if s.HasField("completions"):
        return f"{job.status.succeeded}/{s.completions}"
    par = s.parallelism if s.HasField("parallelism") else 1
    return f"{job.status.succeeded}/1 of {par}" if par > 1 else f"{job.status.succeeded}/1"


def duration(job: batch_pb2.Job, now: float) -> str:
    st = job.status
    if not is_set(st.start_time):
        return ""
    end = seconds_of(st.completion_time) if is_set(st.completion_time) else now
    return human_duration(end - seconds_of(st.start_time))


def job_row(obj: api_pb2.Object, now: float) -> list[str]:
    j = obj.job
    return [j.metadata.name, job_status(j), completions(j), duration(j, now),
            age(j.metadata.creation_timestamp, now)]


def job_wide(obj: api_pb2.Object, now: float) -> list[str]:
    j = obj.job
    return [*containers_images(j.spec.template.spec),
            none_if_empty(format_selector(j.spec.selector))]


def cronjob_row(obj: api_pb2.Object, now: float) -> list[str]:
    c = obj.cron_job
    last = age(c.status.last_schedule_time, now) if is_set(c.status.last_schedule_time) \
        else "<none>"
    return [c.metadata.name, c.spec.schedule,
            c.spec.time_zone if c.spec.HasField("time_zone") else "<none>",
            "True" if c.spec.suspend else "False", str(len(c.status.active)), last,
            age(c.metadata.creation_timestamp, now)]


def cronjob_wide(obj: api_pb2.Object, now: float) -> list[str]:
    s = obj.cron_job.spec.job_template.spec
    return [*containers_images(s.template.spec), none_if_empty(format_selector(s.selector))]


def ds_row(obj: api_pb2.Object, now: float) -> list[str]:
    d = obj.daemon_set
    st = d.status
    sel = ",".join(f"{k}={v}" for k, v in sorted(d.spec.template.spec.node_selector.items()))
    return [d.metadata.name, str(st.desired_number_scheduled),
            str(st.current_number_scheduled), str(st.number_ready),
            str(st.updated_number_scheduled), str(st.number_available), none_if_empty(sel),
            age(d.metadata.creation_timestamp, now)]


def ds_wide(obj: api_pb2.Object, now: float) -> list[str]:
    d = obj.daemon_set
    return [*containers_images(d.spec.template.spec),
            none_if_empty(format_selector(d.spec.selector))]


def sts_row(obj: api_pb2.Object, now: float) -> list[str]:
    s = obj.stateful_set
    want = s.spec.replicas if s.spec.HasField("replicas") else 1
    return [s.metadata.name, f"{s.status.ready_replicas}/{want}",
            age(s.metadata.creation_timestamp, now)]


def sts_wide(obj: api_pb2.Object, now: float) -> list[str]:
    return containers_images(obj.stateful_set.spec.template.spec)


def revision_row(obj: api_pb2.Object, now: float) -> list[str]:
    r = obj.controller_revision
    owner = next((ref for ref in r.metadata.owner_references if ref.controller), None)
    ctrl = "<none>"
    if owner is not None:
        group = owner.api_version.rpartition("/")[0]
        ctrl = f"{owner.kind.lower()}{'.' + group if group else ''}/{owner.name}"
    return [r.metadata.name, ctrl, str(r.revision), age(r.metadata.creation_timestamp, now)]
