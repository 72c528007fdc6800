"""Validation of what a pod takes from ConfigMaps, Secrets and the downward API:
volumes `configMap`, `secret`, `projected` and `downwardAPI`, `env[].valueFrom`
`configMapKeyRef`/`secretKeyRef`, `envFrom` and `imagePullSecrets`, with
Kubernetes' rules and wording (pkg/apis/core/validation).

A pod names ConfigMaps and Secrets of its own namespace only: a reference is a
name, and a "namespace/name" is refused with a message saying so.
"""

from __future__ import annotations

import posixpath
import re

from controlplane.apiserver.validation_config import config_key_errors
from controlplane.apiserver.validation_util import Errors, has, join
from proto import core_pb2

__all__ = [
    "CONFIG_VOLUME_SOURCES",
    "validate_config_volume",
    "validate_env_from",
    "validate_env_source",
    "validate_pull_secrets",
]

# the Volume fields this module checks, beside emptyDir and hostPath
CONFIG_VOLUME_SOURCES = ("config_map", "secret", "projected", "downward_api")
MODE_MESSAGE = "must be a number between 0 and 0777 (octal), both inclusive"
_VOLUME_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.labels",
                       "metadata.annotations", "metadata.uid")
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['([^']*)'\]$")
_VOLUME_RESOURCES = ("limits.cpu", "limits.memory", "limits.ephemeral-storage",
                     "requests.cpu", "requests.memory", "requests.ephemeral-storage")
_ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def object_name(path: str, name: str, what: str, errs: Errors) -> None:
    """A ConfigMap's or Secret's name in a reference: required, a DNS subdomain, and in
    the pod's own namespace."""
    if not name:
        errs.required(path)
    elif "/" in name:
        errs.invalid(path, name, f"a pod may only reference {what}s in its own namespace: "
                                 "give the name alone, not namespace/name")
    else:
        errs.dns_subdomain(path, name)


def _mode(path: str, value: int | None, errs: Errors) -> None:
    if value is not None and not 0 <= value <= 0o777:
        errs.invalid(path, value, MODE_MESSAGE)


def _file_path(path: str, value: str, errs: Errors) -> None:
    """validateLocalNonReversiblePath: relative, no '..' element, not starting with '..'."""
    if not value:
        errs.required(path)
        return
    if value.startswith("/"):
        errs.invalid(path, value, "must be a relative path")
    if ".." in value.split("/"):
        errs.invalid(path, value, "must not contain '..'")
    elif posixpath.normpath(value).startswith(".."):
        errs.invalid(path, value, "must not start with '..'")


def _items(path: str, items: list[core_pb2.KeyToPath], errs: Errors) -> list[str]:
    paths = []
    for i, kp in enumerate(items):
        ip = f"{path}[{i}]"
        if not kp.key:
            errs.required(join(ip, "key"))
        _file_path(join(ip, "path"), kp.path, errs)
        _mode(join(ip, "mode"), kp.mode if kp.HasField("mode") else None, errs)
        paths.append(kp.path)
    return paths


def _downward_items(path: str, items: list[core_pb2.DownwardAPIVolumeFile],
                    errs: Errors) -> list[str]:
    paths = []
    for i, f in enumerate(items):
        ip = f"{path}[{i}]"
        _file_path(join(ip, "path"), f.path, errs)
        _mode(join(ip, "mode"), f.mode if f.HasField("mode") else None, errs)
        paths.append(f.path)
        has_field, has_res = f.HasField("field_ref"), f.HasField("resource_field_ref")
        if has_field and has_res:
            errs.invalid(ip, "resource", "fieldRef and resourceFieldRef can not be specified "
                                         "simultaneously")
        elif not has_field and not has_res:
            errs.required(ip, "one of fieldRef and resourceFieldRef is required")
        if has_field:
            fp = f.field_ref.field_path
            fpath = join(ip, "fieldRef.fieldPath")
            if not fp:
                errs.required(fpath)
            elif fp not in _VOLUME_FIELD_PATHS and not _SUBSCRIPT.match(fp):
                errs.unsupported(fpath, fp, _VOLUME_FIELD_PATHS)
            if f.field_ref.api_version not in ("", "v1"):
                errs.unsupported(join(ip, "fieldRef.apiVersion"), f.field_ref.api_version,
                                 ("v1",))
        if has_res:
            rf = f.resource_field_ref
            rpath = join(ip, "resourceFieldRef")
            if not rf.container_name:
                errs.required(join(rpath, "containerName"))
            if not rf.resource:
                errs.required(join(rpath, "resource"))
            elif rf.resource not in _VOLUME_RESOURCES:
                errs.unsupported(join(rpath, "resource"), rf.resource, _VOLUME_RESOURCES)
            if rf.divisor:
                errs.quantity(join(rpath, "divisor"), rf.divisor)
    return paths


def _unique(path: str, paths: list[str], errs: Errors) -> None:
    seen: set[str] = set()
    for p in paths:
        clean = posixpath.normpath(p) if p else p
        if clean in seen:
            errs.invalid(path, p, "conflicting duplicate paths")
        seen.add(clean)


def validate_config_volume(v: core_pb2.Volume, vp: str, errs: Errors) -> None:
    """The configMap / secret / projected / downwardAPI source of volume `v` at `vp`."""
    if v.HasField("config_map"):
        cm, p = v.config_map, join(vp, "configMap")
        object_name(join(p, "name"), cm.name, "ConfigMap", errs)
        _mode(join(p, "defaultMode"),
              cm.default_mode if cm.HasField("default_mode") else None, errs)
        _unique(join(p, "items"), _items(join(p, "items"), list(cm.items), errs), errs)
    if v.HasField("secret"):
        s, p = v.secret, join(vp, "secret")
        object_name(join(p, "secretName"), s.secret_name, "Secret", errs)
        _mode(join(p, "defaultMode"),
              s.default_mode if s.HasField("default_mode") else None, errs)
        _unique(join(p, "items"), _items(join(p, "items"), list(s.items), errs), errs)
    if v.HasField("downward_api"):
        d, p = v.downward_api, join(vp, "downwardAPI")
        _mode(join(p, "defaultMode"),
              d.default_mode if d.HasField("default_mode") else None, errs)
        _unique(join(p, "items"), _downward_items(join(p, "items"), list(d.items), errs), errs)
    if v.HasField("projected"):
        _projected(v.projected, join(vp, "projected"), errs)


def _projected(pr: core_pb2.ProjectedVolumeSource, p: str, errs: Errors) -> None:
    _mode(join(p, "defaultMode"),
          pr.default_mode if pr.HasField("default_mode") else None, errs)
    paths: list[str] = []
    for i, src in enumerate(pr.sources):
        sp = f"{p}.sources[{i}]"
        kinds = [k for k in ("secret", "config_map", "downward_api") if src.HasField(k)]
        if not kinds:
            errs.required(sp, "must specify exactly one of: `secret`, `configMap` or "
                              "`downwardAPI`")
        elif len(kinds) > 1:
            errs.forbidden(sp, "may not specify more than 1 volume type per source")
        if src.HasField("secret"):
            object_name(join(sp, "secret.name"), src.secret.name, "Secret", errs)
            paths += _items(join(sp, "secret.items"), list(src.secret.items), errs)
        if src.HasField("config_map"):
            object_name(join(sp, "configMap.name"), src.config_map.name, "ConfigMap", errs)
            paths += _items(join(sp, "configMap.items"), list(src.config_map.items), errs)
        if src.HasField("downward_api"):
            paths += _downward_items(join(sp, "downwardAPI.items"),
                                     list(src.downward_api.items), errs)
    _unique(join(p, "sources"), [x for x in paths if x], errs)


def validate_env_source(vf: core_pb2.EnvVarSource, path: str, errs: Errors) -> None:
    """configMapKeyRef / secretKeyRef of one env[].valueFrom (at `path`)."""
    for field, js, what in (("config_map_key_ref", "configMapKeyRef", "ConfigMap"),
                            ("secret_key_ref", "secretKeyRef", "Secret")):
        if not has(vf, field):
            continue
        ref = getattr(vf, field)
        rp = join(path, js)
        object_name(join(rp, "name"), ref.name, what, errs)
        if not ref.key:
            errs.required(join(rp, "key"))
        else:
            for msg in config_key_errors(ref.key):
                errs.invalid(join(rp, "key"), ref.key, msg)


def validate_env_from(c: core_pb2.Container, path: str, errs: Errors) -> None:
    for i, ef in enumerate(c.env_from):
        ep = f"{path}[{i}]"
        if ef.prefix and not _ENV_NAME_RE.match(ef.prefix):
            errs.invalid(join(ep, "prefix"), ef.prefix,
                         "a valid environment variable name must consist of alphabetic "
                         "characters, digits, '_', '-', or '.', and must not start with a digit")
        both = ef.HasField("config_map_ref") and ef.HasField("secret_ref")
        if both:
            errs.forbidden(ep, "may not have more than one field specified at a time")
        elif ef.HasField("config_map_ref"):
            object_name(join(ep, "configMapRef.name"), ef.config_map_ref.name, "ConfigMap",
                        errs)
        elif ef.HasField("secret_ref"):
            object_name(join(ep, "secretRef.name"), ef.secret_ref.name, "Secret", errs)
        else:
            errs.required(ep, "must specify one of: `configMapRef` or `secretRef`")


def validate_pull_secrets(spec: core_pb2.PodSpec, path: str, errs: Errors) -> None:
    for i, ref in enumerate(spec.image_pull_secrets):
        if ref.name:
            object_name(f"{path}[{i}].name", ref.name, "Secret", errs)
