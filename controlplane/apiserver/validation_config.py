"""Validation of v1 ConfigMaps and Secrets, as Kubernetes does it
(pkg/apis/core/validation: ValidateConfigMap, ValidateSecret and their updates).

Keys are config keys (`[-._a-zA-Z0-9]+`, at most 253 characters, not `.`,
`..` or `..`-prefixed); the values of one object total at most 1 MiB. A
Secret's type decides which keys it must have (kubernetes.io/tls: tls.crt and
tls.key; kubernetes.io/dockerconfigjson: .dockerconfigjson, valid JSON; ...).
`immutable: true` freezes the data (and itself) once stored; a Secret's type
never changes.

No message here ever shows a Secret's value: a bad value is
"<secret contents redacted>", as in Kubernetes.
"""

from __future__ import annotations

import json
import re

from controlplane.apiserver.validation_util import Errors
from controlplane.errors import FieldError
from proto import config_pb2

__all__ = [
    "MAX_DATA_BYTES",
    "config_key_errors",
    "validate_configmap",
    "validate_configmap_update",
    "validate_secret",
    "validate_secret_update",
]

MAX_DATA_BYTES = 1024 * 1024       # Kubernetes' MaxSecretSize, for ConfigMaps too
REDACTED = "<secret contents redacted>"
_CONFIG_KEY = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile(f"^{_CONFIG_KEY}$")
_IMMUTABLE = "field is immutable when `immutable` is set"

TYPE_OPAQUE = "Opaque"
TYPE_SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
TYPE_DOCKERCFG = "kubernetes.io/dockercfg"
TYPE_DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
TYPE_BASIC_AUTH = "kubernetes.io/basic-auth"
TYPE_SSH_AUTH = "kubernetes.io/ssh-auth"
TYPE_TLS = "kubernetes.io/tls"


def config_key_errors(key: str) -> list[str]:
    """Kubernetes' IsConfigMapKey: the messages for a bad key, [] when it is fine."""
    errs = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY_RE.match(key):
        errs.append("a valid config key must consist of alphanumeric characters, '-', '_' or "
                    "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                    f"validation is '{_CONFIG_KEY}')")
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _keys(field: str, keys: list[str], errs: Errors) -> None:
    for key in sorted(keys):
        for msg in config_key_errors(key):
            errs.invalid(f"{field}[{key}]", key, msg)


def _too_long(path: str, errs: Errors) -> None:
    errs.append(FieldError(path, f"Too long: may not be more than {MAX_DATA_BYTES} bytes"))


def validate_configmap(cm: config_pb2.ConfigMap, errs: Errors) -> None:
    _keys("data", list(cm.data), errs)
    _keys("binaryData", list(cm.binary_data), errs)
    for key in sorted(set(cm.data) & set(cm.binary_data)):
        errs.invalid(f"data[{key}]", key, "duplicate of key present in binaryData")
    size = sum(len(v.encode()) for v in cm.data.values()) + \
        sum(len(v) for v in cm.binary_data.values())
    if size > MAX_DATA_BYTES:
        _too_long("", errs)


def validate_configmap_update(new: config_pb2.ConfigMap, old: config_pb2.ConfigMap,
                              errs: Errors) -> None:
    if old.HasField("immutable") and old.immutable:
        if not (new.HasField("immutable") and new.immutable):
            errs.forbidden("immutable", _IMMUTABLE)
        if dict(new.data) != dict(old.data):
            errs.forbidden("data", _IMMUTABLE)
        if dict(new.binary_data) != dict(old.binary_data):
            errs.forbidden("binaryData", _IMMUTABLE)


def validate_secret(s: config_pb2.Secret, errs: Errors) -> None:
    """`stringData` is merged into `data` before this runs (defaults_config.py)."""
    _keys("data", list(s.data), errs)
    if sum(len(v) for v in s.data.values()) > MAX_DATA_BYTES:
        _too_long("data", errs)
    data = s.data
    if s.type == TYPE_SERVICE_ACCOUNT_TOKEN:
        errs.forbidden("type", f'"{TYPE_SERVICE_ACCOUNT_TOKEN}" is not supported: corral has '
                               "no service accounts and no token controller; use type "
                               f'"{TYPE_OPAQUE}"')
    elif s.type in (TYPE_DOCKERCFG, TYPE_DOCKER_CONFIG_JSON):
        key = ".dockercfg" if s.type == TYPE_DOCKERCFG else ".dockerconfigjson"
        if key not in data:
            errs.required(f"data[{key}]")
        else:
            try:
                doc = json.loads(data[key])
            except (ValueError, UnicodeDecodeError) as e:
                errs.invalid(f"data[{key}]", REDACTED, _json_problem(e))
            else:
                if not isinstance(doc, dict):
                    errs.invalid(f"data[{key}]", REDACTED, "must be a JSON object")
    elif s.type == TYPE_BASIC_AUTH:
        if "username" not in data and "password" not in data:
            errs.required("data[username]")
            errs.required("data[password]")
    elif s.type == TYPE_SSH_AUTH:
        if not data.get("ssh-privatekey"):
            errs.required("data[ssh-privatekey]")
    elif s.type == TYPE_TLS:
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.required(f"data[{key}]")


def _json_problem(e: Exception) -> str:
    """Where the JSON is broken, without quoting any of it."""
    if isinstance(e, json.JSONDecodeError):
        return f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}"
    return "invalid JSON: not UTF-8 text"


def validate_secret_update(new: config_pb2.Secret, old: config_pb2.Secret,
                           errs: Errors) -> None:
    if new.type != old.type:
        errs.invalid("type", new.type, "field is immutable")
    if old.HasField("immutable") and old.immutable:
        if not (new.HasField("immutable") and new.immutable):
            errs.forbidden("immutable", _IMMUTABLE)
        if dict(new.data) != dict(old.data):
            errs.forbidden("data", _IMMUTABLE)
