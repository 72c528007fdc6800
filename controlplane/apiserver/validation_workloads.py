"""Validation of apps/v1 DaemonSets, StatefulSets and ControllerRevisions
(pkg/apis/apps/validation)."""

from __future__ import annotations

from controlplane.apiserver.validation_apps import (
    int_or_percent,
    selector_and_template,
    show_selector,
)
from controlplane.apiserver.validation_storage import validate_claim_spec
from controlplane.apiserver.validation_util import Errors, join
from proto import apps_pb2, core_pb2, meta_pb2

UPDATE_STRATEGIES = ("RollingUpdate", "OnDelete")
POD_MANAGEMENT_POLICIES = ("OrderedReady", "Parallel")
RETENTION = ("Retain", "Delete")


def validate_daemonset(ds: apps_pb2.DaemonSet, errs: Errors) -> None:
    s = ds.spec
    selector_and_template(s.selector, s.HasField("selector"), s.template, "spec", "daemonset",
                          errs)
    errs.non_negative("spec.minReadySeconds", s.min_ready_seconds)
    if s.HasField("revision_history_limit"):
        errs.non_negative("spec.revisionHistoryLimit", s.revision_history_limit)
    st = s.update_strategy
    errs.enum("spec.updateStrategy.type", st.type, UPDATE_STRATEGIES, allow_empty=False)
    if st.type == "OnDelete" and st.HasField("rolling_update"):
        errs.forbidden("spec.updateStrategy.rollingUpdate",
                       "may not be specified when strategy `type` is 'OnDelete'")
    if st.type == "RollingUpdate":
        base = "spec.updateStrategy.rollingUpdate"
        ru = st.rolling_update
        unavailable = _fencepost(ru.max_unavailable, join(base, "maxUnavailable"), errs)
        surge = _fencepost(ru.max_surge, join(base, "maxSurge"), errs)
        if unavailable == 0 and surge == 0:
            errs.invalid(join(base, "maxUnavailable"), _ios(ru.max_unavailable),
                         "may not be 0 when `maxSurge` is 0")


def _fencepost(v: meta_pb2.IntOrString, path: str, errs: Errors) -> int | None:
    n = int_or_percent(v, path, errs)
    if n is not None and v.WhichOneof("value") == "str_val" and n > 100:
        errs.invalid(path, v.str_val, "must not be greater than 100%")
    return n


def _ios(v: meta_pb2.IntOrString) -> int | str:
    return v.int_val if v.WhichOneof("value") == "int_val" else v.str_val


def validate_statefulset(sts: apps_pb2.StatefulSet, errs: Errors) -> None:
    s = sts.spec
    if not s.service_name:
        errs.required("spec.serviceName", "the headless Service that gives the pods their "
                                          "network identity")
    else:
        errs.dns_label("spec.serviceName", s.service_name)
    errs.enum("spec.podManagementPolicy", s.pod_management_policy, POD_MANAGEMENT_POLICIES,
              allow_empty=False)
    st = s.update_strategy
    errs.enum("spec.updateStrategy.type", st.type, UPDATE_STRATEGIES, allow_empty=False)
    if st.type == "OnDelete" and st.HasField("rolling_update"):
        errs.invalid("spec.updateStrategy.rollingUpdate", "",
                     "only allowed for updateStrategy 'RollingUpdate'")
    if st.rolling_update.HasField("partition"):
        errs.non_negative("spec.updateStrategy.rollingUpdate.partition",
                          st.rolling_update.partition)
    if s.HasField("replicas"):
        errs.non_negative("spec.replicas", s.replicas)
    errs.non_negative("spec.minReadySeconds", s.min_ready_seconds)
    if s.HasField("revision_history_limit"):
        errs.non_negative("spec.revisionHistoryLimit", s.revision_history_limit)
    policy = s.persistent_volume_claim_retention_policy
    rpath = "spec.persistentVolumeClaimRetentionPolicy"
    errs.enum(join(rpath, "whenDeleted"), policy.when_deleted, RETENTION)
    errs.enum(join(rpath, "whenScaled"), policy.when_scaled, RETENTION)
    # the pods get a persistentVolumeClaim volume per claim template (statefulset.py)
    template = core_pb2.PodTemplateSpec()
    template.CopyFrom(s.template)
    claims = {c.metadata.name for c in s.volume_claim_templates}
    kept = [v for v in template.spec.volumes if v.name not in claims]
    del template.spec.volumes[:]
    template.spec.volumes.extend(kept)
    for name in sorted(claims):
        template.spec.volumes.add(name=name).persistent_volume_claim.claim_name = \
            f"{name}-{sts.metadata.name or 'x'}-0"
    selector_and_template(s.selector, s.HasField("selector"), template, "spec", "statefulset",
                          errs)
    names: set[str] = set()
    for i, claim in enumerate(s.volume_claim_templates):
        cp = f"spec.volumeClaimTemplates[{i}]"
        name = claim.metadata.name
        if not name:
            errs.required(join(cp, "metadata.name"))
        else:
            errs.dns_subdomain(join(cp, "metadata.name"), name)
            if name in names:
                errs.duplicate(join(cp, "metadata.name"), name)
            names.add(name)
        errs.labels(join(cp, "metadata.labels"), claim.metadata.labels)
        validate_claim_spec(claim.spec, join(cp, "spec"), errs)


_STS_MUTABLE = ("replicas", "template", "update_strategy", "min_ready_seconds",
                "persistent_volume_claim_retention_policy", "revision_history_limit")


def validate_statefulset_update(new: apps_pb2.StatefulSet, old: apps_pb2.StatefulSet,
                                errs: Errors) -> None:
    a, b = apps_pb2.StatefulSetSpec(), apps_pb2.StatefulSetSpec()
    a.CopyFrom(new.spec)
    b.CopyFrom(old.spec)
    for f in _STS_MUTABLE:
        a.ClearField(f)  # type: ignore[arg-type]
        b.ClearField(f)  # type: ignore[arg-type]
    if a != b:
        errs.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', "
                               "'ordinals', 'template', 'updateStrategy', "
                               "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
                               "are forbidden")


def validate_daemonset_update(new: apps_pb2.DaemonSet, old: apps_pb2.DaemonSet,
                              errs: Errors) -> None:
    if new.spec.selector != old.spec.selector:
        errs.invalid("spec.selector", show_selector(new.spec.selector), "field is immutable")


def validate_revision(cr: apps_pb2.ControllerRevision, errs: Errors) -> None:
    errs.non_negative("revision", cr.revision)


def validate_revision_update(new: apps_pb2.ControllerRevision,
                             old: apps_pb2.ControllerRevision, errs: Errors) -> None:
    if new.data != old.data:
        errs.invalid("data", "", "field is immutable")
