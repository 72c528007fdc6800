"""Encoding messages in Kubernetes' JSON form, and RFC 3339 timestamps."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.timestamp_pb2 import Timestamp

from proto import api_pb2, kinds
from proto.codec.descriptors import (
    INT_OR_STRING,
    STRUCT,
    TIMESTAMP,
    FieldDesc,
    is_map,
    zero_value,
)
from proto.codec.presence import ALWAYS, NULL_WHEN_UNSET


def encode(obj: Message, *, precise: bool = False, full: bool | None = None,
           ) -> dict[str, Any]:
    """Kubernetes' JSON form of an Object envelope or any message.

    For API kinds, apiVersion and kind come first (from the kind table, even
    when the message leaves them empty). Scalars at their zero value and empty
    lists/maps are left out; proto3 `optional` scalars that are set and
    messages that are set are kept, even when zero/empty (`emptyDir: {}`).
    With `full` (the default unless `precise`), the fields Kubernetes always
    writes are there even when unset (presence.py: `restartCount: 0`, `ready:
    false`, `resources: {}`, `lastProbeTime: null`), as kubectl shows them.

    Timestamps are RFC 3339 in UTC with seconds precision, like Kubernetes'
    metav1.Time ("2024-01-31T12:00:00Z"); the Lease's acquireTime/renewTime
    are MicroTime (".123456Z"). With `precise=True` every fraction of a second
    is kept, so decode(encode(x, precise=True)) == x for every x, but for one thing:
    a struct Kubernetes always writes that is set but empty (`status {}`) reads back
    unset, as Go has no difference between the two.
    """
    if isinstance(obj, api_pb2.Object):
        if obj.WhichOneof("kind") is None:
            return {}
        obj = kinds.unwrap(obj)
    out = _encode_message(obj, precise, not precise if full is None else full)
    for k in kinds.KINDS:
        if isinstance(obj, k.message):
            head: dict[str, Any] = {"apiVersion": k.api_version, "kind": k.kind}
            head.update((key, v) for key, v in out.items() if key not in head)
            return head
    return out


def encode_list(items: api_pb2.ObjectList | Iterable[api_pb2.Object], *,
                precise: bool = False, full: bool | None = None) -> dict[str, Any]:
    """Several objects as kubectl prints them: a v1 List (resourceVersion from an ObjectList)."""
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "List"}
    if isinstance(items, api_pb2.ObjectList):
        out["items"] = [encode(o, precise=precise, full=full) for o in items.items]
        out["metadata"] = {"resourceVersion": items.resource_version}
    else:
        out["items"] = [encode(o, precise=precise, full=full) for o in items]
        out["metadata"] = {"resourceVersion": ""}
    return out


def to_json(obj: Message, indent: int | None = 2, *, precise: bool = False) -> str:
    return json.dumps(encode(obj, precise=precise), indent=indent)


# Kubernetes' MicroTime fields: always six fractional digits.
_MICRO_TIME_FIELDS = frozenset({
    ("corral.v1.LeaseSpec", "acquire_time"),
    ("corral.v1.LeaseSpec", "renew_time"),
})


def is_micro_time(message: str, field: str) -> bool:
    """Whether (message full name, proto field name) is a MicroTime (six digits)."""
    return (message, field) in _MICRO_TIME_FIELDS


def _encode_message(msg: Message, precise: bool, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    fd: FieldDesc
    desc = msg.DESCRIPTOR
    always = ALWAYS.get(desc.full_name, frozenset()) if full else frozenset()
    for fd in desc.fields:
        value = getattr(msg, fd.name)
        if is_map(fd):
            if len(value):
                vfd = fd.message_type.fields_by_name["value"]
                out[fd.json_name] = {k: _encode_value(vfd, value[k], precise, full)
                                     for k in sorted(value)}
        elif fd.is_repeated:
            if len(value):
                out[fd.json_name] = [_encode_value(fd, v, precise, full) for v in value]
        elif fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            if msg.HasField(fd.name):
                if (desc.full_name, fd.name) in _MICRO_TIME_FIELDS and not precise:
                    out[fd.json_name] = format_timestamp(value, digits=6)
                    continue
                encoded = _encode_value(fd, value, precise, full)
                if encoded is not None:
                    out[fd.json_name] = encoded
        elif fd.has_presence:
            if msg.HasField(fd.name):
                out[fd.json_name] = _encode_value(fd, value, precise, full)
        elif value != zero_value(fd):
            out[fd.json_name] = _encode_value(fd, value, precise, full)
        if fd.json_name in always and fd.json_name not in out:
            out[fd.json_name] = _unset(desc.full_name, fd, precise)
    return out


def _unset(message: str, fd: FieldDesc, precise: bool) -> Any:
    """How Kubernetes writes a field it always writes when it is unset."""
    if fd.is_repeated:
        return None
    if fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        name = fd.message_type.full_name
        if name == TIMESTAMP or (message, fd.name) in NULL_WHEN_UNSET:
            return None
        if name == INT_OR_STRING:
            return 0
        return _encode_message(GetMessageClass(fd.message_type)(), precise, True)
    return _encode_value(fd, zero_value(fd), precise, True)


def _encode_value(fd: FieldDesc, value: Any, precise: bool, full: bool) -> Any:
    ct = fd.cpp_type
    if ct == FieldDescriptor.CPPTYPE_MESSAGE:
        name = fd.message_type.full_name
        if name == TIMESTAMP:
            return format_timestamp(value, digits=None if precise else 0)
        if name == INT_OR_STRING:
            which = value.WhichOneof("value")
            return None if which is None else getattr(value, which)
        if name == STRUCT:
            return json_format.MessageToDict(value)
        return _encode_message(value, precise, full)
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if ct == FieldDescriptor.CPPTYPE_ENUM:
        ev = fd.enum_type.values_by_number.get(value)
        return ev.name if ev is not None else value
    return value


def format_timestamp(ts: Timestamp, digits: int | None = 0) -> str:
    """RFC 3339 in UTC. digits=0: seconds ("2024-01-31T12:00:00Z", Kubernetes' Time);
    6: microseconds (MicroTime); None: as many as needed to be exact (up to 9)."""
    when = dt.datetime.fromtimestamp(ts.seconds, tz=dt.UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if digits is None:
        if ts.nanos:
            frac = f"{ts.nanos:09d}"
            while frac.endswith("000"):
                frac = frac[:-3]
            text += "." + frac
    elif digits > 0:
        text += "." + f"{ts.nanos:09d}"[:digits]
    return text + "Z"
