"""Small helpers on api_pb2.Object used by the registry."""

from __future__ import annotations

import importlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from controlplane import errors
from proto import api_pb2, kinds

log = logging.getLogger(__name__)

Object = api_pb2.Object

# metadata fields only the server sets; a client's values are ignored on update
SYSTEM_META = ("uid", "creation_timestamp", "deletion_timestamp",
               "deletion_grace_period_seconds", "generation", "resource_version")


def copy(obj: Object) -> Object:
    out = Object()
    out.CopyFrom(obj)
    return out


def msg(obj: Object) -> Any:
    """The typed message inside (Pod, Node, ...)."""
    return kinds.unwrap(obj)


def meta(obj: Object) -> Any:
    return kinds.unwrap(obj).metadata  # type: ignore[attr-defined]


def kind_of(obj: Object) -> kinds.Kind:
    try:
        return kinds.of(obj)
    except kinds.UnknownKind as e:
        raise errors.BadRequest(str(e)) from None


def kind_named(resource: str) -> kinds.Kind:
    try:
        return kinds.lookup(resource)
    except kinds.UnknownKind as e:
        raise errors.NotFound(str(e)) from None


def has_status(obj: Object) -> bool:
    return "status" in msg(obj).DESCRIPTOR.fields_by_name


def describe(obj: Object) -> str:
    k, m = kind_of(obj), meta(obj)
    return f'{k.kind} "{m.namespace}/{m.name}"' if k.namespaced else f'{k.kind} "{m.name}"'


def now() -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(time.time_ns() // 1000 * 1000)
    return ts


def in_seconds(seconds: int) -> Timestamp:
    ts = Timestamp()
    ts.FromSeconds(int(time.time()) + seconds)
    return ts


_ALNUM = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def body(obj: Object) -> Object:
    """What apply compares: everything but server-set metadata and status."""
    out = copy(obj)
    m = meta(out)
    for f in SYSTEM_META:
        m.ClearField(f)
    if has_status(out):
        msg(out).ClearField("status")
    return out


def spec_of(obj: Object) -> Object:
    """Everything but metadata and status (a change bumps metadata.generation)."""
    out = copy(obj)
    msg(out).ClearField("metadata")
    if has_status(out):
        msg(out).ClearField("status")
    return out


def is_bound_pod(obj: Object) -> bool:
    return obj.WhichOneof("kind") == "pod" and bool(obj.pod.spec.node_name)


# -- validation and defaulting (controlplane/apiserver/validation.py, defaults.py) --

_hooks: dict[str, Callable[..., Any] | None] = {}


def _hook(module: str, name: str) -> Callable[..., Any] | None:
    if name not in _hooks or _hooks[name] is None:
        try:
            mod = importlib.import_module(f"controlplane.apiserver.{module}")
            _hooks[name] = getattr(mod, name)
        except (ImportError, AttributeError):
            log.debug("controlplane.apiserver.%s.%s not available", module, name)
            _hooks[name] = None
    return _hooks[name]


def apply_defaults(obj: Object) -> None:
    fn = _hook("defaults", "apply_defaults")
    if fn is not None:
        fn(obj)


def validate(obj: Object, old: Object | None = None) -> None:
    """Raise errors.Invalid naming every bad field."""
    fn = _hook("validation", "validate")
    if fn is None:
        return
    problems: list[errors.FieldError] = fn(obj, old)
    if problems:
        raise errors.Invalid(describe(obj), problems)
