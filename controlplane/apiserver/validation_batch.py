"""Validation of batch/v1 Jobs and CronJobs (pkg/apis/batch/validation)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controlplane import cronschedule
from controlplane.apiserver.defaults_workloads import CONTROLLER_UID
from controlplane.apiserver.validation_apps import validate_selector
from controlplane.apiserver.validation_pod import validate_pod_spec
from controlplane.apiserver.validation_util import Errors, join, show
from proto import batch_pb2, core_pb2, labels

COMPLETION_MODES = ("NonIndexed", "Indexed")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
FAILURE_ACTIONS = ("FailJob", "Ignore", "Count")
EXIT_CODE_OPERATORS = ("In", "NotIn")
MAX_INDEXED = 100_000
MAX_RULES = 20
MAX_EXIT_CODES = 255
MAX_CRONJOB_NAME = 52   # the Job names add 11 characters and must stay a DNS label


def validate_job(job: batch_pb2.Job, errs: Errors) -> None:
    generated = not job.spec.manual_selector
    if generated and job.metadata.uid and job.spec.HasField("selector"):
        want = {CONTROLLER_UID: job.metadata.uid}
        sel = job.spec.selector
        if dict(sel.match_labels) != want or sel.match_expressions:
            errs.invalid("spec.selector", show(dict(sel.match_labels)),
                         "`selector` not auto-generated")
    # without a uid (not created yet) a generated selector is still to come
    _job_spec(job.spec, "spec", errs, template=False,
              selector_due=bool(job.metadata.uid) or bool(job.spec.manual_selector))


def _job_spec(s: batch_pb2.JobSpec, path: str, errs: Errors, *, template: bool,
              selector_due: bool = False) -> None:
    for field, js in (("parallelism", "parallelism"), ("completions", "completions"),
                      ("active_deadline_seconds", "activeDeadlineSeconds"),
                      ("backoff_limit", "backoffLimit"),
                      ("ttl_seconds_after_finished", "ttlSecondsAfterFinished")):
        if s.HasField(field):  # type: ignore[arg-type]
            errs.non_negative(join(path, js), getattr(s, field))
    errs.enum(join(path, "completionMode"), s.completion_mode, COMPLETION_MODES)
    if s.completion_mode == "Indexed":
        if not s.HasField("completions"):
            errs.required(join(path, "completions"), "when completion mode is Indexed")
        elif s.completions > MAX_INDEXED:
            errs.invalid(join(path, "completions"), s.completions,
                         f"must be less than or equal to {MAX_INDEXED} when completion mode "
                         "is Indexed")
        if s.HasField("parallelism") and s.parallelism > MAX_INDEXED:
            errs.invalid(join(path, "parallelism"), s.parallelism,
                         f"must be less than or equal to {MAX_INDEXED} when completion mode "
                         "is Indexed")
    if template and s.HasField("selector") and not s.manual_selector:
        errs.invalid(join(path, "selector"), show(dict(s.selector.match_labels)),
                     "`selector` will be auto-generated")
    spath = join(path, "selector")
    if not s.HasField("selector"):
        if selector_due:
            errs.required(spath)
    elif validate_selector(s.selector, spath, errs) and not template:
        if not s.selector.match_labels and not s.selector.match_expressions:
            errs.invalid(spath, {}, "empty selector is invalid for job")
        elif not labels.from_label_selector(s.selector).matches(s.template.metadata.labels):
            errs.invalid(join(path, "template.metadata.labels"),
                         dict(s.template.metadata.labels),
                         "`selector` does not match template `labels`")
    tpath = join(path, "template")
    errs.labels(join(tpath, "metadata.labels"), s.template.metadata.labels)
    validate_pod_spec(s.template.spec, join(tpath, "spec"), errs)
    policy = s.template.spec.restart_policy
    if policy not in ("OnFailure", "Never"):
        errs.unsupported(join(tpath, "spec.restartPolicy"), policy, ("OnFailure", "Never"))
    if s.HasField("pod_failure_policy"):
        if policy != "Never":
            errs.invalid(join(tpath, "spec.restartPolicy"), policy,
                         'only "Never" is supported when podFailurePolicy is specified')
        _failure_policy(s.pod_failure_policy, s.template.spec,
                        join(path, "podFailurePolicy"), errs)


def _failure_policy(p: batch_pb2.PodFailurePolicy, spec: core_pb2.PodSpec, path: str,
                    errs: Errors) -> None:
    if len(p.rules) > MAX_RULES:
        errs.too_long(join(path, "rules"), len(p.rules), MAX_RULES)
    containers = {c.name for c in [*spec.init_containers, *spec.containers]}
    for i, rule in enumerate(p.rules):
        rp = f"{path}.rules[{i}]"
        errs.enum(join(rp, "action"), rule.action, FAILURE_ACTIONS, allow_empty=False)
        has_codes = rule.HasField("on_exit_codes")
        if has_codes == bool(rule.on_pod_conditions):
            errs.invalid(rp, "", "specifying one of OnExitCodes and OnPodConditions is "
                                 "required")
        if has_codes:
            _exit_codes(rule.on_exit_codes, join(rp, "onExitCodes"), containers, errs)
        for j, pat in enumerate(rule.on_pod_conditions):
            cp = f"{rp}.onPodConditions[{j}]"
            if not pat.type:
                errs.required(join(cp, "type"))
            else:
                errs.qualified_name(join(cp, "type"), pat.type)
            errs.enum(join(cp, "status"), pat.status, ("True", "False", "Unknown"))


def _exit_codes(r: batch_pb2.PodFailurePolicyOnExitCodesRequirement, path: str,
                containers: set[str], errs: Errors) -> None:
    if r.HasField("container_name") and r.container_name not in containers:
        errs.invalid(join(path, "containerName"), r.container_name,
                     "must be one of the container or initContainer names in the pod "
                     "template")
    errs.enum(join(path, "operator"), r.operator, EXIT_CODE_OPERATORS, allow_empty=False)
    if not r.values:
        errs.required(join(path, "values"), "at least one value is required")
    if len(r.values) > MAX_EXIT_CODES:
        errs.too_long(join(path, "values"), len(r.values), MAX_EXIT_CODES)
    prev: int | None = None
    for i, v in enumerate(r.values):
        vp = f"{path}.values[{i}]"
        if r.operator == "In" and v == 0:
            errs.invalid(vp, v, "must not be 0 for the In operator")
        if prev is not None and v == prev:
            errs.duplicate(vp, v)
        elif prev is not None and v < prev:
            errs.invalid(vp, v, "must be ordered")
        prev = v


_JOB_MUTABLE = ("parallelism", "active_deadline_seconds", "backoff_limit",
                "ttl_seconds_after_finished", "suspend")


def validate_job_update(new: batch_pb2.Job, old: batch_pb2.Job, errs: Errors) -> None:
    """Only parallelism, activeDeadlineSeconds, backoffLimit, ttlSecondsAfterFinished and
    suspend may change (and the template's scheduling fields of a suspended Job that
    never started, as in Kubernetes, are not supported here)."""
    for field, js in (("completions", "completions"), ("selector", "selector"),
                      ("template", "template"), ("completion_mode", "completionMode"),
                      ("pod_failure_policy", "podFailurePolicy"),
                      ("manual_selector", "manualSelector")):
        if getattr(new.spec, field) != getattr(old.spec, field):
            errs.invalid(f"spec.{js}", _brief(getattr(new.spec, field)), "field is immutable")


def _brief(v: object) -> object:
    return v if isinstance(v, int | str | bool) else ""


# ---- CronJob -----------------------------------------------------------------

def validate_cronjob(cj: batch_pb2.CronJob, errs: Errors) -> None:
    if len(cj.metadata.name) > MAX_CRONJOB_NAME:
        errs.invalid("metadata.name", cj.metadata.name,
                     f"must be no more than {MAX_CRONJOB_NAME} characters")
    s = cj.spec
    if not s.schedule:
        errs.required("spec.schedule")
    elif "TZ" in s.schedule:
        errs.invalid("spec.schedule", s.schedule,
                     "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    else:
        try:
            cronschedule.parse(s.schedule)
        except cronschedule.CronError as e:
            errs.invalid("spec.schedule", s.schedule, str(e))
    if s.HasField("time_zone"):
        validate_time_zone(s.time_zone, "spec.timeZone", errs)
    errs.enum("spec.concurrencyPolicy", s.concurrency_policy, CONCURRENCY_POLICIES,
              allow_empty=False)
    for field, js in (("starting_deadline_seconds", "startingDeadlineSeconds"),
                      ("successful_jobs_history_limit", "successfulJobsHistoryLimit"),
                      ("failed_jobs_history_limit", "failedJobsHistoryLimit")):
        if s.HasField(field):  # type: ignore[arg-type]
            errs.non_negative(f"spec.{js}", getattr(s, field))
    errs.labels("spec.jobTemplate.metadata.labels", s.job_template.metadata.labels)
    _job_spec(s.job_template.spec, "spec.jobTemplate.spec", errs, template=True)


def validate_time_zone(tz: str, path: str, errs: Errors) -> None:
    if not tz:
        errs.invalid(path, tz, "timeZone must be nil or non-empty string")
        return
    if tz.lower() == "local":
        errs.invalid(path, tz, "timeZone must be an explicit time zone as defined in "
                               "https://www.iana.org/time-zones")
        return
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        errs.invalid(path, tz, f"unknown time zone {tz}")
