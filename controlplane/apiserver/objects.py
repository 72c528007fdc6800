"""Small helpers on api_pb2.Object used by the registry, and its defaulting and
validation (defaults.py, validation.py: plain imports, so a control plane
without them cannot start)."""

from __future__ import annotations

import secrets
import time
from typing import Literal

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from controlplane import errors
from controlplane.apiserver.defaults import apply_defaults
from controlplane.apiserver.validation import validate as _validate
from controlplane.objects import copy_of as copy
from controlplane.objects import describe as describe_object
from controlplane.objects import meta_of as meta
from proto import api_pb2, kinds

__all__ = ["apply_defaults", "copy", "meta"]

Object = api_pb2.Object

# metadata fields only the server sets; a client's values are ignored on update
SystemMeta = Literal["uid", "creation_timestamp", "deletion_timestamp",
                     "deletion_grace_period_seconds", "generation", "resource_version"]
SYSTEM_META: tuple[SystemMeta, ...] = (
    "uid", "creation_timestamp", "deletion_timestamp", "deletion_grace_period_seconds",
    "generation", "resource_version")


def msg(obj: Object) -> Message:
    """The typed message inside (Pod, Node, ...)."""
    return kinds.unwrap(obj)


def set_type_meta(obj: Object, kind: kinds.Kind) -> None:
    """apiVersion and kind of the message inside, as the kind table has them."""
    typed = msg(obj)
    setattr(typed, "api_version", kind.api_version)  # noqa: B010 (every kind has them)
    setattr(typed, "kind", kind.kind)  # noqa: B010


def copy_status(dst: Object, src: Object) -> None:
    """dst's .status := src's (both of the same kind, one with a status)."""
    getattr(msg(dst), "status").CopyFrom(getattr(msg(src), "status"))  # noqa: B009


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
    m = meta(obj)
    return describe_object(kind_of(obj).resource, m.namespace, m.name)


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


def validate(obj: Object, old: Object | None = None) -> None:
    """Raise errors.Invalid naming every bad field."""
    problems = _validate(obj, old)
    if problems:
        raise errors.Invalid(describe(obj), problems)
