"""Validation of PodSpecs (pods and pod templates): volumes, pod-level fields,
tolerations; each container is checked by validation_container.py."""

from __future__ import annotations

from controlplane.apiserver.validation_affinity import validate_affinity
from controlplane.apiserver.validation_container import validate_container
from controlplane.apiserver.validation_dns import validate_pod_dns
from controlplane.apiserver.validation_podconfig import (
    CONFIG_VOLUME_SOURCES,
    validate_config_volume,
    validate_pull_secrets,
)
from controlplane.apiserver.validation_util import Errors, has, join
from proto import core_pb2, labels

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS = ("Exists", "Equal")
VOLUME_SOURCES = ("empty_dir", "host_path", "persistent_volume_claim")
HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
                   "CharDevice", "BlockDevice")


def validate_pod_spec(spec: core_pb2.PodSpec, path: str, errs: Errors) -> None:
    volumes = _volumes(spec, join(path, "volumes"), errs)
    if not spec.containers:
        errs.required(join(path, "containers"), "a pod needs at least one container")
    names: set[str] = set()
    for field, items in (("initContainers", spec.init_containers),
                         ("containers", spec.containers)):
        for i, c in enumerate(items):
            validate_container(c, f"{path}.{field}[{i}]", volumes, names, errs,
                               init=field == "initContainers")
    errs.enum(join(path, "restartPolicy"), spec.restart_policy, RESTART_POLICIES)
    errs.enum(join(path, "dnsPolicy"), spec.dns_policy, DNS_POLICIES)
    validate_pod_dns(spec, path, errs)
    if spec.HasField("termination_grace_period_seconds"):
        errs.non_negative(join(path, "terminationGracePeriodSeconds"),
                          spec.termination_grace_period_seconds)
    if spec.HasField("active_deadline_seconds") and not (
            1 <= spec.active_deadline_seconds <= 2**31 - 1):
        errs.invalid(join(path, "activeDeadlineSeconds"), spec.active_deadline_seconds,
                     "must be between 1 and 2147483647, inclusive")
    errs.labels(join(path, "nodeSelector"), spec.node_selector)
    if spec.node_name:
        errs.dns_subdomain(join(path, "nodeName"), spec.node_name)
    if spec.hostname:
        errs.dns_label(join(path, "hostname"), spec.hostname)
    if spec.subdomain:
        errs.dns_label(join(path, "subdomain"), spec.subdomain)
    if spec.service_account_name:
        errs.dns_subdomain(join(path, "serviceAccountName"), spec.service_account_name)
    if spec.scheduler_name:
        errs.dns_subdomain(join(path, "schedulerName"), spec.scheduler_name)
    sc = spec.security_context
    spath = join(path, "securityContext")
    for f, js in (("run_as_user", "runAsUser"), ("run_as_group", "runAsGroup"),
                  ("fs_group", "fsGroup")):
        if has(sc, f):
            errs.non_negative(join(spath, js), getattr(sc, f))
    for i, g in enumerate(sc.supplemental_groups):
        errs.non_negative(f"{spath}.supplementalGroups[{i}]", g)
    for i, t in enumerate(spec.tolerations):
        _toleration(t, f"{path}.tolerations[{i}]", errs)
    if spec.HasField("affinity"):
        validate_affinity(spec.affinity, join(path, "affinity"), errs)
    validate_pull_secrets(spec, join(path, "imagePullSecrets"), errs)


def _volumes(spec: core_pb2.PodSpec, path: str, errs: Errors) -> set[str]:
    names: set[str] = set()
    for i, v in enumerate(spec.volumes):
        vp = f"{path}[{i}]"
        if not v.name:
            errs.required(join(vp, "name"))
        else:
            errs.dns_label(join(vp, "name"), v.name)
            if v.name in names:
                errs.duplicate(join(vp, "name"), v.name)
            names.add(v.name)
        sources = [s for s in (*VOLUME_SOURCES, *CONFIG_VOLUME_SOURCES) if has(v, s)]
        if not sources:
            errs.required(vp, "must specify a volume type")
        elif len(sources) > 1:
            second = v.DESCRIPTOR.fields_by_name[sources[1]].json_name
            errs.forbidden(join(vp, second), "may not specify more than 1 volume type")
        validate_config_volume(v, vp, errs)
        if v.HasField("empty_dir"):
            ed = v.empty_dir
            errs.enum(join(vp, "emptyDir.medium"), ed.medium, ("Memory",))
            if ed.size_limit:
                errs.quantity(join(vp, "emptyDir.sizeLimit"), ed.size_limit)
        if v.HasField("host_path"):
            hp = v.host_path
            errs.absolute_path(join(vp, "hostPath.path"), hp.path)
            if ".." in hp.path.split("/"):
                errs.invalid(join(vp, "hostPath.path"), hp.path, "must not contain '..'")
            if hp.type not in HOST_PATH_TYPES:
                errs.unsupported(join(vp, "hostPath.type"), hp.type, HOST_PATH_TYPES[1:])
        if v.HasField("persistent_volume_claim"):
            claim = v.persistent_volume_claim.claim_name
            if not claim:
                errs.required(join(vp, "persistentVolumeClaim.claimName"))
            else:
                errs.dns_subdomain(join(vp, "persistentVolumeClaim.claimName"), claim)
    return names


def _toleration(t: core_pb2.Toleration, path: str, errs: Errors) -> None:
    if t.key:
        errs.qualified_name(join(path, "key"), t.key)
    op = t.operator or "Equal"
    if not t.key and op != "Exists":
        errs.invalid(join(path, "operator"), t.operator,
                     "operator must be Exists when `key` is empty, which means \"match all "
                     "values and all keys\"")
    errs.enum(join(path, "operator"), t.operator, TOLERATION_OPERATORS)
    if op == "Exists" and t.value:
        errs.invalid(join(path, "operator"), t.value,
                     "value must be empty when `operator` is 'Exists'")
    elif t.value:
        for msg in labels.label_value_errors(t.value):
            errs.invalid(join(path, "value"), t.value, msg)
    errs.enum(join(path, "effect"), t.effect, TAINT_EFFECTS)
    if t.HasField("toleration_seconds") and t.effect != "NoExecute":
        errs.invalid(join(path, "effect"), t.effect,
                     "effect must be 'NoExecute' when `tolerationSeconds` is set")
