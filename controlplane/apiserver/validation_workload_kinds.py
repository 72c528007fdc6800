"""Which check validates which workload or volume kind (Job, CronJob, DaemonSet,
StatefulSet, ControllerRevision, PersistentVolume(Claim), StorageClass): the one entry
validation.py calls for them, on create and on update."""

from __future__ import annotations

from controlplane.apiserver.defaults_workloads import WorkloadKind
from controlplane.apiserver.validation_batch import (
    validate_cronjob,
    validate_job,
    validate_job_update,
)
from controlplane.apiserver.validation_storage import (
    validate_pv,
    validate_pv_update,
    validate_pvc,
    validate_pvc_update,
    validate_storage_class,
    validate_storage_class_update,
)
from controlplane.apiserver.validation_util import Errors
from controlplane.apiserver.validation_workloads import (
    validate_daemonset,
    validate_daemonset_update,
    validate_revision,
    validate_revision_update,
    validate_statefulset,
    validate_statefulset_update,
)
from proto import apps_pb2, batch_pb2, storage_pb2

KINDS = (batch_pb2.Job, batch_pb2.CronJob, apps_pb2.DaemonSet, apps_pb2.StatefulSet,
         apps_pb2.ControllerRevision, storage_pb2.PersistentVolume,
         storage_pb2.PersistentVolumeClaim, storage_pb2.StorageClass)

Kind = WorkloadKind | apps_pb2.ControllerRevision


def validate_workload(msg: Kind, errs: Errors) -> None:
    if isinstance(msg, batch_pb2.Job):
        validate_job(msg, errs)
    elif isinstance(msg, batch_pb2.CronJob):
        validate_cronjob(msg, errs)
    elif isinstance(msg, apps_pb2.DaemonSet):
        validate_daemonset(msg, errs)
    elif isinstance(msg, apps_pb2.StatefulSet):
        validate_statefulset(msg, errs)
    elif isinstance(msg, apps_pb2.ControllerRevision):
        validate_revision(msg, errs)
    elif isinstance(msg, storage_pb2.PersistentVolume):
        validate_pv(msg, errs)
    elif isinstance(msg, storage_pb2.PersistentVolumeClaim):
        validate_pvc(msg, errs)
    else:
        validate_storage_class(msg, errs)


def validate_workload_update(msg: Kind, old: Kind, errs: Errors) -> None:
    if isinstance(msg, batch_pb2.Job) and isinstance(old, batch_pb2.Job):
        validate_job_update(msg, old, errs)
    elif isinstance(msg, apps_pb2.DaemonSet) and isinstance(old, apps_pb2.DaemonSet):
        validate_daemonset_update(msg, old, errs)
    elif isinstance(msg, apps_pb2.StatefulSet) and isinstance(old, apps_pb2.StatefulSet):
        validate_statefulset_update(msg, old, errs)
    elif isinstance(msg, apps_pb2.ControllerRevision) and \
            isinstance(old, apps_pb2.ControllerRevision):
        validate_revision_update(msg, old, errs)
    elif isinstance(msg, storage_pb2.PersistentVolume) and \
            isinstance(old, storage_pb2.PersistentVolume):
        validate_pv_update(msg, old, errs)
    elif isinstance(msg, storage_pb2.PersistentVolumeClaim) and \
            isinstance(old, storage_pb2.PersistentVolumeClaim):
        validate_pvc_update(msg, old, errs)
    elif isinstance(msg, storage_pb2.StorageClass) and isinstance(old, storage_pb2.StorageClass):
        validate_storage_class_update(msg, old, errs)
