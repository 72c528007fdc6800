"""The workload and volume kinds: Kubernetes' defaults, and bad input named by its path
with Kubernetes' wording (nothing is written for it: the registry refuses it)."""

from __future__ import annotations

import copy

import pytest

from tests.unit.schema.validation_cases import with_
from tests.unit.workloads.manifests import (
    CRONJOB,
    DAEMONSET,
    JOB,
    PV,
    PVC,
    STATEFULSET,
    STORAGECLASS,
    build,
    errors_of,
)


@pytest.mark.parametrize("doc", [JOB, CRONJOB, DAEMONSET, STATEFULSET, PVC, PV, STORAGECLASS])
def test_the_docs_examples_are_valid(doc):
    assert errors_of(doc) == {}


def test_job_defaults_and_generated_selector():
    job = build(JOB, uid="u-1").job
    s = job.spec
    assert (s.completions, s.parallelism, s.backoff_limit) == (1, 1, 4)
    assert s.completion_mode == "NonIndexed" and s.suspend is False
    assert dict(s.selector.match_labels) == {"batch.kubernetes.io/controller-uid": "u-1"}
    labels = s.template.metadata.labels
    assert labels["batch.kubernetes.io/job-name"] == "pi"
    assert labels["controller-uid"] == "u-1" and labels["job-name"] == "pi"
    work_queue = build(with_(JOB, "spec.parallelism", 3)).job.spec
    assert not work_queue.HasField("completions") and work_queue.parallelism == 3


def test_other_defaults():
    cj = build(CRONJOB).cron_job.spec
    assert (cj.concurrency_policy, cj.suspend) == ("Allow", False)
    assert (cj.successful_jobs_history_limit, cj.failed_jobs_history_limit) == (3, 1)
    ds = build(DAEMONSET).daemon_set.spec
    assert ds.update_strategy.type == "RollingUpdate"
    assert ds.update_strategy.rolling_update.max_unavailable.int_val == 1
    assert ds.update_strategy.rolling_update.max_surge.int_val == 0
    sts = build(STATEFULSET).stateful_set.spec
    assert sts.pod_management_policy == "OrderedReady"
    assert sts.update_strategy.rolling_update.partition == 0
    assert sts.persistent_volume_claim_retention_policy.when_deleted == "Retain"
    pvc = build(PVC).persistent_volume_claim
    assert pvc.status.phase == "Pending" and not pvc.spec.HasField("storage_class_name")
    sc = build(STORAGECLASS).storage_class
    assert (sc.reclaim_policy, sc.volume_binding_mode) == ("Delete", "WaitForFirstConsumer")
    pv = build(with_(PV, "spec.persistentVolumeReclaimPolicy", None)).persistent_volume
    assert pv.spec.persistent_volume_reclaim_policy == "Retain"
    assert pv.status.phase == "Pending"


@pytest.mark.parametrize(("doc", "path", "value", "err_path", "fragment"), [
    (JOB, "spec.completions", -1, "spec.completions",
     "Invalid value: -1: must be greater than or equal to 0"),
    (JOB, "spec.parallelism", -2, "spec.parallelism", "must be greater than or equal to 0"),
    (JOB, "spec.backoffLimit", -1, "spec.backoffLimit", "greater than or equal to 0"),
    (JOB, "spec.template.spec.restartPolicy", "Always", "spec.template.spec.restartPolicy",
     'Unsupported value: "Always": supported values: "Never", "OnFailure"'),
    (JOB, "spec.template.spec.restartPolicy", None, "spec.template.spec.restartPolicy",
     'Unsupported value: "Always"'),
    (JOB, "spec.completionMode", "Sometimes", "spec.completionMode", "Unsupported value"),
    (with_(JOB, "spec.parallelism", 2), "spec.completionMode", "Indexed", "spec.completions",
     "Required value: when completion mode is Indexed"),
    (JOB, "spec.selector", {"matchLabels": {"a": "b"}}, "spec.selector",
     "`selector` not auto-generated"),
    (JOB, "spec.podFailurePolicy", {"rules": [{"action": "FailJob", "onExitCodes": {
        "operator": "In", "values": [0]}}]}, "spec.podFailurePolicy.rules[0].onExitCodes"
     ".values[0]", "must not be 0 for the In operator"),
    (JOB, "spec.podFailurePolicy", {"rules": [{"action": "Explode", "onExitCodes": {
        "operator": "In", "values": [3, 1]}}]}, "spec.podFailurePolicy.rules[0].action",
     "Unsupported value"),
    (CRONJOB, "spec.schedule", "every minute", "spec.schedule",
     'Invalid value: "every minute": expected exactly 5 fields, found 2'),
    (CRONJOB, "spec.schedule", "61 * * * *", "spec.schedule", "above maximum (59)"),
    (CRONJOB, "spec.schedule", "CRON_TZ=UTC 0 * * * *", "spec.schedule",
     "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
    (CRONJOB, "spec.timeZone", "Mars/Olympus", "spec.timeZone", "unknown time zone"),
    (CRONJOB, "spec.concurrencyPolicy", "Sometimes", "spec.concurrencyPolicy",
     'supported values: "Allow", "Forbid", "Replace"'),
    (CRONJOB, "spec.jobTemplate.spec.template.spec.restartPolicy", "Always",
     "spec.jobTemplate.spec.template.spec.restartPolicy", "Unsupported value"),
    (STATEFULSET, "spec.serviceName", None, "spec.serviceName", "Required value"),
    (STATEFULSET, "spec.podManagementPolicy", "Random", "spec.podManagementPolicy",
     "Unsupported value"),
    (STATEFULSET, "spec.volumeClaimTemplates[0].spec.resources", {}, "spec."
     "volumeClaimTemplates[0].spec.resources.requests.storage", "Required value"),
    (STATEFULSET, "spec.template.spec.restartPolicy", "Never",
     "spec.template.spec.restartPolicy", 'supported values: "Always"'),
    (DAEMONSET, "spec.updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": 0, "maxSurge": 0}},
     "spec.updateStrategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0"),
    (DAEMONSET, "spec.selector", {"matchLabels": {"name": "other"}},
     "spec.template.metadata.labels", "`selector` does not match template `labels`"),
    (PVC, "spec.accessModes", [], "spec.accessModes", "at least 1 access mode is required"),
    (PVC, "spec.accessModes", ["ReadWriteSometimes"], "spec.accessModes", "Unsupported value"),
    (PVC, "spec.resources.requests.storage", "12X", "spec.resources.requests.storage",
     "quantities must match"),
    (PVC, "spec.volumeMode", "Block", "spec.volumeMode", 'supported values: "Filesystem"'),
    (PV, "spec.nodeAffinity", None, "spec.nodeAffinity", "Local volume requires node affinity"),
    (PV, "spec.capacity", None, "spec.capacity", "Required value"),
    (STORAGECLASS, "volumeBindingMode", "Later", "volumeBindingMode", "Unsupported value"),
])
def test_bad_input_names_the_field(doc, path, value, err_path, fragment):
    errs = errors_of(with_(doc, path, value))
    assert err_path in errs, errs
    assert fragment in errs[err_path]


def test_immutable_fields_on_update():
    sts = copy.deepcopy(STATEFULSET)
    changed = with_(sts, "spec.serviceName", "other")
    assert "updates to statefulset spec for fields other than" in \
        errors_of(changed, sts)["spec"]
    assert errors_of(with_(sts, "spec.replicas", 5), sts) == {}
    assert "field is immutable" in errors_of(with_(JOB, "spec.completions", 3), JOB)[
        "spec.completions"]
    job = with_(JOB, "spec.completions", 1)
    assert errors_of(with_(job, "spec.parallelism", 3), job) == {}
    assert "immutable" in errors_of(with_(PVC, "spec.accessModes", ["ReadOnlyMany"]), PVC)[
        "spec"]
    assert "forbidden" in errors_of(with_(STORAGECLASS, "provisioner", "x.io/y"),
                                    STORAGECLASS)["provisioner"]
