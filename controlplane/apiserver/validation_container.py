"""Validation of containers: image, ports, env, resources, mounts and probes."""

from __future__ import annotations

import re
from fractions import Fraction

from controlplane.apiserver.validation_podconfig import validate_env_from, validate_env_source
from controlplane.apiserver.validation_util import Errors, has, iana_port_name_errors, join
from proto import core_pb2, meta_pb2

PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")
MESSAGE_POLICIES = ("FallbackToLogsOnError", "File")
STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")
_ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def validate_container(c: core_pb2.Container, path: str, volumes: set[str], names: set[str],
                       errs: Errors, *, init: bool) -> None:
    """Check one container; `volumes` are the pod's volume names, `names` the
    container names seen so far (this one is added)."""
    if not c.name:
        errs.required(join(path, "name"))
    else:
        errs.dns_label(join(path, "name"), c.name)
        if c.name in names:
            errs.duplicate(join(path, "name"), c.name)
        names.add(c.name)
    if not c.image.strip():
        errs.required(join(path, "image"))
    elif c.image != c.image.strip():
        errs.invalid(join(path, "image"), c.image, "must not have leading or trailing whitespace")
    errs.enum(join(path, "imagePullPolicy"), c.image_pull_policy, PULL_POLICIES)
    errs.enum(join(path, "terminationMessagePolicy"), c.termination_message_policy,
              MESSAGE_POLICIES)
    if c.working_dir and not c.working_dir.startswith("/"):
        errs.invalid(join(path, "workingDir"), c.working_dir, "must be an absolute path")
    if c.termination_message_path and not c.termination_message_path.startswith("/"):
        errs.invalid(join(path, "terminationMessagePath"), c.termination_message_path,
                     "must be an absolute path")
    _ports(c, join(path, "ports"), errs)
    _env(c, join(path, "env"), errs)
    validate_env_from(c, join(path, "envFrom"), errs)
    _resources(c.resources, join(path, "resources"), errs)
    mounts: set[str] = set()
    for i, m in enumerate(c.volume_mounts):
        mp = f"{path}.volumeMounts[{i}]"
        if not m.name:
            errs.required(join(mp, "name"))
        elif m.name not in volumes:
            errs.not_found(join(mp, "name"), m.name)
        errs.absolute_path(join(mp, "mountPath"), m.mount_path)
        if m.mount_path in mounts:
            errs.invalid(join(mp, "mountPath"), m.mount_path, "must be unique")
        mounts.add(m.mount_path)
        if m.sub_path:
            errs.relative_path(join(mp, "subPath"), m.sub_path)
    for field, js in (("liveness_probe", "livenessProbe"), ("readiness_probe", "readinessProbe"),
                      ("startup_probe", "startupProbe")):
        if not has(c, field):
            continue
        if init:
            errs.forbidden(join(path, js), "may not be set for init containers")
            continue
        _probe(getattr(c, field), join(path, js), errs, single_success=js != "readinessProbe")
    sc = c.security_context
    for f, js in (("run_as_user", "runAsUser"), ("run_as_group", "runAsGroup")):
        if has(sc, f):
            errs.non_negative(join(path, f"securityContext.{js}"), getattr(sc, f))
    if sc.HasField("privileged") and sc.privileged and sc.HasField(
            "allow_privilege_escalation") and not sc.allow_privilege_escalation:
        errs.invalid(join(path, "securityContext"), "privileged",
                     "cannot set `allowPrivilegeEscalation` to false and `privileged` to true")


def _ports(c: core_pb2.Container, path: str, errs: Errors) -> None:
    names: set[str] = set()
    for i, p in enumerate(c.ports):
        pp = f"{path}[{i}]"
        if p.name:
            for msg in iana_port_name_errors(p.name):
                errs.invalid(join(pp, "name"), p.name, msg)
            if p.name in names:
                errs.duplicate(join(pp, "name"), p.name)
            names.add(p.name)
        if p.container_port == 0:
            errs.required(join(pp, "containerPort"))
        else:
            errs.port(join(pp, "containerPort"), p.container_port)
        errs.port(join(pp, "hostPort"), p.host_port, allow_zero=True)
        errs.enum(join(pp, "protocol"), p.protocol, PROTOCOLS)


def _env(c: core_pb2.Container, path: str, errs: Errors) -> None:
    for i, e in enumerate(c.env):
        ep = f"{path}[{i}]"
        if not e.name:
            errs.required(join(ep, "name"))
        elif not _ENV_NAME_RE.match(e.name):
            errs.invalid(join(ep, "name"), e.name,
                         "a valid environment variable name must consist of alphabetic "
                         "characters, digits, '_', '-', or '.', and must not start with a digit")
        if e.HasField("value_from"):
            vf = e.value_from
            refs = [r for r in ("field_ref", "resource_field_ref", "config_map_key_ref",
                                "secret_key_ref") if vf.HasField(r)]
            if e.value:
                errs.invalid(join(ep, "valueFrom"), "",
                             "may not be specified when `value` is not empty")
            if len(refs) > 1:
                errs.invalid(join(ep, "valueFrom"), "",
                             "may not have more than one field specified at a time")
            elif not refs:
                errs.invalid(join(ep, "valueFrom"), "",
                             "must specify one of: `fieldRef`, `resourceFieldRef`, "
                             "`configMapKeyRef` or `secretKeyRef`")
            validate_env_source(vf, join(ep, "valueFrom"), errs)
            if vf.HasField("field_ref") and not vf.field_ref.field_path:
                errs.required(join(ep, "valueFrom.fieldRef.fieldPath"))
            if vf.HasField("resource_field_ref"):
                rf = vf.resource_field_ref
                if not rf.resource:
                    errs.required(join(ep, "valueFrom.resourceFieldRef.resource"))
                if rf.divisor:
                    errs.quantity(join(ep, "valueFrom.resourceFieldRef.divisor"), rf.divisor)


def _resource_name_ok(name: str) -> bool:
    return name in STANDARD_RESOURCES or name.startswith("hugepages-") or "/" in name


def _resources(r: core_pb2.ResourceRequirements, path: str, errs: Errors) -> None:
    parsed: dict[str, dict[str, Fraction]] = {"limits": {}, "requests": {}}
    for kind, values in (("limits", r.limits), ("requests", r.requests)):
        for name in sorted(values):
            p = f"{path}.{kind}.{name}"
            if not _resource_name_ok(name):
                errs.invalid(p, name, "must be a standard resource type or fully qualified")
                continue
            q = errs.quantity(p, values[name])
            if q is not None:
                parsed[kind][name] = q
    for name, req in parsed["requests"].items():
        lim = parsed["limits"].get(name)
        if lim is not None and req > lim:
            errs.invalid(f"{path}.requests.{name}", r.requests[name],
                         f"must be less than or equal to {name} limit of {r.limits[name]}")


def _probe(p: core_pb2.Probe, path: str, errs: Errors, *, single_success: bool) -> None:
    handlers = [h for h in ("exec", "http_get", "tcp_socket") if has(p, h)]
    if not handlers:
        errs.required(path, "must specify a handler type")
    elif len(handlers) > 1:
        errs.forbidden(path, "may not specify more than 1 handler type")
    if p.HasField("exec") and not p.exec.command:
        errs.required(join(path, "exec.command"))
    for h, js in (("http_get", "httpGet"), ("tcp_socket", "tcpSocket")):
        if has(p, h):
            _probe_port(getattr(p, h).port, join(path, f"{js}.port"), errs)
    if p.HasField("http_get"):
        errs.enum(join(path, "httpGet.scheme"), p.http_get.scheme, ("HTTP", "HTTPS"))
        if p.http_get.path and not p.http_get.path.startswith("/"):
            errs.invalid(join(path, "httpGet.path"), p.http_get.path, "must be an absolute path")
    for f, js in (("initial_delay_seconds", "initialDelaySeconds"),
                  ("timeout_seconds", "timeoutSeconds"), ("period_seconds", "periodSeconds"),
                  ("success_threshold", "successThreshold"),
                  ("failure_threshold", "failureThreshold")):
        errs.non_negative(join(path, js), getattr(p, f))
    if single_success and p.success_threshold > 1:
        errs.invalid(join(path, "successThreshold"), p.success_threshold, "must be 1")
    if p.HasField("termination_grace_period_seconds") and p.termination_grace_period_seconds < 1:
        errs.invalid(join(path, "terminationGracePeriodSeconds"),
                     p.termination_grace_period_seconds, "must be greater than 0")


def _probe_port(port: meta_pb2.IntOrString, path: str, errs: Errors) -> None:
    which = port.WhichOneof("value")
    if which is None:
        errs.required(path)
    elif which == "int_val":
        errs.port(path, port.int_val)
    else:
        for msg in iana_port_name_errors(port.str_val):
            errs.invalid(path, port.str_val, msg)
