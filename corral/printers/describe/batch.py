"""`corral describe job|cronjob|daemonset|statefulset|controllerrevision`, as kubectl."""

from __future__ import annotations

from corral.printers.describe.sections import (
    Related,
    Writer,
    common_meta,
    controlled_by,
    events_section,
    map_section,
)
from corral.printers.describe.workloads import pods_status, template_section
from proto import api_pb2, batch_pb2, columns
from proto.columns.batch import duration
from proto.columns.humanize import is_set, long_date


def _opt(msg: object, field: str) -> str:
    return str(getattr(msg, field)) if msg.HasField(field) else "<unset>"  # type: ignore[attr-defined]


def _job_spec(w: Writer, s: batch_pb2.JobSpec) -> None:
    w.kv(0, "Parallelism", _opt(s, "parallelism"))
    w.kv(0, "Completions", _opt(s, "completions"))
    w.kv(0, "Completion Mode", s.completion_mode or "NonIndexed")
    w.kv(0, "Suspend", str(s.suspend).lower() if s.HasField("suspend") else "false")
    w.kv(0, "Backoff Limit", _opt(s, "backoff_limit"))
    if s.HasField("active_deadline_seconds"):
        w.kv(0, "Active Deadline Seconds", f"{s.active_deadline_seconds}s")
    if s.HasField("ttl_seconds_after_finished"):
        w.kv(0, "TTL Seconds After Finished", s.ttl_seconds_after_finished)


def describe_job(obj: api_pb2.Object, rel: Related, now: float) -> str:
    j = obj.job
    w = Writer()
    common_meta(w, j.metadata, True)
    w.kv(0, "Selector", columns.format_selector(j.spec.selector) or "<none>")
    map_section(w, 0, "Labels", j.metadata.labels)
    map_section(w, 0, "Annotations", j.metadata.annotations, ": ")
    ctl = controlled_by(j.metadata)
    if ctl:
        w.kv(0, "Controlled By", ctl)
    _job_spec(w, j.spec)
    st = j.status
    if is_set(st.start_time):
        w.kv(0, "Start Time", long_date(st.start_time))
    if is_set(st.completion_time):
        w.kv(0, "Completed At", long_date(st.completion_time))
    if is_set(st.start_time):
        w.kv(0, "Duration", duration(j, now))
    ready = st.ready if st.HasField("ready") else 0
    w.kv(0, "Pods Statuses", f"{st.active} Active ({ready} Ready) / {st.succeeded} Succeeded / "
                             f"{st.failed} Failed")
    if j.spec.completion_mode == "Indexed":
        w.kv(0, "Completed Indexes", st.completed_indexes or "<none>")
    for c in st.conditions:
        if c.status == "True" and c.type in ("Failed", "FailureTarget"):
            w.kv(0, "Failure Reason", f"{c.reason}: {c.message}")
            break
    template_section(w, j.spec.template)
    events_section(w, rel.events, now)
    return w.render()


def describe_cronjob(obj: api_pb2.Object, rel: Related, now: float) -> str:
    c = obj.cron_job
    s = c.spec
    w = Writer()
    common_meta(w, c.metadata, True)
    map_section(w, 0, "Labels", c.metadata.labels)
    map_section(w, 0, "Annotations", c.metadata.annotations, ": ")
    w.kv(0, "Schedule", s.schedule)
    if s.HasField("time_zone"):
        w.kv(0, "Time Zone", s.time_zone)
    w.kv(0, "Concurrency Policy", s.concurrency_policy or "Allow")
    w.kv(0, "Suspend", "True" if s.suspend else "False")
    w.kv(0, "Successful Job History Limit", _opt(s, "successful_jobs_history_limit"))
    w.kv(0, "Failed Job History Limit", _opt(s, "failed_jobs_history_limit"))
    w.kv(0, "Starting Deadline Seconds", f"{s.starting_deadline_seconds}s"
         if s.HasField("starting_deadline_seconds") else "<unset>")
    js = s.job_template.spec
    w.kv(0, "Selector", columns.format_selector(js.selector) or "<unset>")
    w.kv(0, "Parallelism", _opt(js, "parallelism"))
    w.kv(0, "Completions", _opt(js, "completions"))
    template_section(w, js.template)
    last = c.status.last_schedule_time
    w.kv(0, "Last Schedule Time", long_date(last) if is_set(last) else "<unset>")
    w.kv(0, "Active Jobs", ", ".join(r.name for r in c.status.active) or "<none>")
    events_section(w, rel.events, now)
    return w.render()


def describe_daemonset(obj: api_pb2.Object, rel: Related, now: float) -> str:
    d = obj.daemon_set
    w = Writer()
    common_meta(w, d.metadata, True)
    w.kv(0, "Selector", columns.format_selector(d.spec.selector) or "<none>")
    w.kv(0, "Node-Selector", ",".join(f"{k}={v}" for k, v in sorted(
        d.spec.template.spec.node_selector.items())) or "<none>")
    map_section(w, 0, "Labels", d.metadata.labels)
    map_section(w, 0, "Annotations", d.metadata.annotations, ": ")
    st = d.status
    w.kv(0, "Desired Number of Nodes Scheduled", st.desired_number_scheduled)
    w.kv(0, "Current Number of Nodes Scheduled", st.current_number_scheduled)
    w.kv(0, "Number of Nodes Scheduled with Up-to-date Pods", st.updated_number_scheduled)
    w.kv(0, "Number of Nodes Scheduled with Available Pods", st.number_available)
    w.kv(0, "Number of Nodes Misscheduled", st.number_misscheduled)
    w.kv(0, "Pods Status", pods_status(rel.pods))
    w.kv(0, "Update Strategy", d.spec.update_strategy.type or "RollingUpdate")
    template_section(w, d.spec.template)
    events_section(w, rel.events, now)
    return w.render()


def describe_statefulset(obj: api_pb2.Object, rel: Related, now: float) -> str:
    s = obj.stateful_set
    w = Writer()
    common_meta(w, s.metadata, True)
    w.kv(0, "CreationTimestamp", long_date(s.metadata.creation_timestamp))
    w.kv(0, "Selector", columns.format_selector(s.spec.selector) or "<none>")
    map_section(w, 0, "Labels", s.metadata.labels)
    map_section(w, 0, "Annotations", s.metadata.annotations, ": ")
    want = s.spec.replicas if s.spec.HasField("replicas") else 1
    w.kv(0, "Replicas", f"{want} desired | {s.status.replicas} total")
    w.kv(0, "Service Name", s.spec.service_name)
    w.kv(0, "Pod Management Policy", s.spec.pod_management_policy or "OrderedReady")
    w.kv(0, "Update Strategy", s.spec.update_strategy.type or "RollingUpdate")
    if s.spec.update_strategy.type != "OnDelete":
        w.kv(1, "Partition", s.spec.update_strategy.rolling_update.partition)
    policy = s.spec.persistent_volume_claim_retention_policy
    w.kv(0, "PVC Retention Policy", f"whenDeleted: {policy.when_deleted or 'Retain'}, "
                                    f"whenScaled: {policy.when_scaled or 'Retain'}")
    w.kv(0, "Pods Status", pods_status(rel.pods))
    template_section(w, s.spec.template)
    if not s.spec.volume_claim_templates:
        w.kv(0, "Volume Claims", "<none>")
    else:
        w.line(0, "Volume Claims:")
        for c in s.spec.volume_claim_templates:
            w.kv(1, "Name", c.metadata.name)
            w.kv(1, "StorageClass", c.spec.storage_class_name)
            map_section(w, 1, "Labels", c.metadata.labels)
            map_section(w, 1, "Annotations", c.metadata.annotations, ": ")
            w.kv(1, "Capacity", c.spec.resources.requests.get("storage", ""))
            w.kv(1, "Access Modes", f"[{', '.join(c.spec.access_modes)}]")
    events_section(w, rel.events, now)
    return w.render()


def describe_revision(obj: api_pb2.Object, rel: Related, now: float) -> str:
    r = obj.controller_revision
    w = Writer()
    common_meta(w, r.metadata, True)
    map_section(w, 0, "Labels", r.metadata.labels)
    w.kv(0, "Controlled By", controlled_by(r.metadata) or "<none>")
    w.kv(0, "Revision", r.revision)
    template_section(w, r.data.spec.template)
    events_section(w, rel.events, now)
    return w.render()
