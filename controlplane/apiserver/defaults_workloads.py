"""Kubernetes' defaults for the workload and volume kinds: batch/v1 Job and CronJob,
apps/v1 DaemonSet, StatefulSet, v1 PersistentVolume(Claim), storage.k8s.io/v1
StorageClass (pkg/apis/{batch,apps,core,storage}/v1/defaults.go).

    templates = default_workload(msg)   # in place; the pod templates inside, which
                                        # defaults.py gives the PodSpec defaults

A Job's selector is generated from its uid (the registry's create strategy in
Kubernetes), so it needs metadata.uid: on create the writer sets it before
defaulting, on update the stored uid is copied first.
"""

from __future__ import annotations

from proto import apps_pb2, batch_pb2, core_pb2, storage_pb2

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"

WorkloadKind = (batch_pb2.Job | batch_pb2.CronJob | apps_pb2.DaemonSet | apps_pb2.StatefulSet
                | storage_pb2.PersistentVolume | storage_pb2.PersistentVolumeClaim
                | storage_pb2.StorageClass)
WORKLOAD_TYPES = (batch_pb2.Job, batch_pb2.CronJob, apps_pb2.DaemonSet, apps_pb2.StatefulSet,
                  storage_pb2.PersistentVolume, storage_pb2.PersistentVolumeClaim,
                  storage_pb2.StorageClass)


def default_workload(msg: WorkloadKind) -> list[core_pb2.PodTemplateSpec]:
    """Fill the kind's defaults in place; the pod templates it holds."""
    if isinstance(msg, batch_pb2.Job):
        default_job_spec(msg.spec)
        generate_job_selector(msg)
        return [msg.spec.template]
    if isinstance(msg, batch_pb2.CronJob):
        s = msg.spec
        if not s.concurrency_policy:
            s.concurrency_policy = "Allow"
        if not s.HasField("suspend"):
            s.suspend = False
        if not s.HasField("successful_jobs_history_limit"):
            s.successful_jobs_history_limit = 3
        if not s.HasField("failed_jobs_history_limit"):
            s.failed_jobs_history_limit = 1
        return [s.job_template.spec.template]
    if isinstance(msg, apps_pb2.DaemonSet):
        _default_daemonset(msg.spec)
        return [msg.spec.template]
    if isinstance(msg, apps_pb2.StatefulSet):
        _default_statefulset(msg.spec)
        return [msg.spec.template]
    if isinstance(msg, storage_pb2.PersistentVolume):
        if not msg.spec.persistent_volume_reclaim_policy:
            msg.spec.persistent_volume_reclaim_policy = "Retain"
        if not msg.spec.HasField("volume_mode"):
            msg.spec.volume_mode = "Filesystem"
        if not msg.status.phase:
            msg.status.phase = "Pending"
        return []
    if isinstance(msg, storage_pb2.PersistentVolumeClaim):
        default_claim(msg)
        return []
    if not msg.HasField("reclaim_policy"):
        msg.reclaim_policy = "Delete"
    if not msg.HasField("volume_binding_mode"):
        msg.volume_binding_mode = "Immediate"
    return []


def default_job_spec(s: batch_pb2.JobSpec) -> None:
    if not s.HasField("completions") and not s.HasField("parallelism"):
        s.completions = 1
        s.parallelism = 1
    if not s.HasField("parallelism"):
        s.parallelism = 1
    if not s.HasField("backoff_limit"):
        s.backoff_limit = 6
    if not s.completion_mode:
        s.completion_mode = "NonIndexed"
    if not s.HasField("suspend"):
        s.suspend = False
    for rule in s.pod_failure_policy.rules:
        for p in rule.on_pod_conditions:
            if not p.status:
                p.status = "True"


def generated_selector_labels(uid: str, name: str) -> dict[str, str]:
    return {CONTROLLER_UID: uid, JOB_NAME: name, LEGACY_CONTROLLER_UID: uid,
            LEGACY_JOB_NAME: name}


def generate_job_selector(job: batch_pb2.Job) -> None:
    """Unless manualSelector: select the Job's pods by its uid, and label its template so
    (Kubernetes' job strategy, PrepareForCreate). Idempotent."""
    if job.spec.manual_selector or not job.metadata.uid:
        return
    uid = job.metadata.uid
    if not job.spec.HasField("selector"):
        job.spec.selector.match_labels[CONTROLLER_UID] = uid
    labels = job.spec.template.metadata.labels
    for k, v in generated_selector_labels(uid, job.metadata.name).items():
        labels.setdefault(k, v)


def _default_daemonset(s: apps_pb2.DaemonSetSpec) -> None:
    if not s.update_strategy.type:
        s.update_strategy.type = "RollingUpdate"
    if s.update_strategy.type == "RollingUpdate":
        ru = s.update_strategy.rolling_update
        if not ru.HasField("max_unavailable"):
            ru.max_unavailable.int_val = 1
        if not ru.HasField("max_surge"):
            ru.max_surge.int_val = 0
    if not s.HasField("revision_history_limit"):
        s.revision_history_limit = 10


def _default_statefulset(s: apps_pb2.StatefulSetSpec) -> None:
    if not s.HasField("replicas"):
        s.replicas = 1
    if not s.pod_management_policy:
        s.pod_management_policy = "OrderedReady"
    if not s.update_strategy.type:
        s.update_strategy.type = "RollingUpdate"
    if s.update_strategy.type == "RollingUpdate" and \
            not s.update_strategy.rolling_update.HasField("partition"):
        s.update_strategy.rolling_update.partition = 0
    if not s.HasField("revision_history_limit"):
        s.revision_history_limit = 10
    policy = s.persistent_volume_claim_retention_policy
    if not policy.when_deleted:
        policy.when_deleted = "Retain"
    if not policy.when_scaled:
        policy.when_scaled = "Retain"
    for claim in s.volume_claim_templates:
        default_claim(claim)


def default_claim(c: storage_pb2.PersistentVolumeClaim) -> None:
    if not c.spec.HasField("volume_mode"):
        c.spec.volume_mode = "Filesystem"
    if not c.status.phase:
        c.status.phase = "Pending"
