"""A wire message (proto/kubepb_*.proto) as Kubernetes writes it in JSON.

Field names are already the JSON names. What differs from a plain walk:

    Time, MicroTime     RFC 3339 strings; an all-zero Time (Go's zero time) is null
    Quantity            its string ("250m")
    IntOrString         the number or the string, by its type
    FieldsV1, RawExtension  the JSON object their bytes hold
    bytes               standard base64, as in JSON
    [(inline) = true]   an embedded Go struct: its fields go into the parent's object

Go writes every plain (non-pointer) field, set or not, so a body carries zero values of
fields corral does not serve: those are ignored, as JSON's omitempty would have left
them out; a field corral does not know that holds anything else is an error naming where.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import unknown_fields
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.empty_pb2 import Empty
from google.protobuf.message import DecodeError as ProtobufError
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from proto.codec import DecodeError, format_timestamp
from proto.codec.descriptors import FieldDesc, is_map
from proto.kubepb_meta_pb2 import inline

_PKG = "corral.kubepb."
_INLINE: dict[str, bool] = {}


def message(msg: Message, path: str) -> dict[str, Any]:
    """The JSON object of a wire message; `path` names it in errors ("spec.template")."""
    _refuse_unknown(msg, path)
    out: dict[str, Any] = {}
    fd: FieldDesc
    for fd, value in msg.ListFields():
        fpath = f"{path}.{fd.name}" if path else fd.name
        if _inlined(fd):
            out.update(message(value, path))
        elif is_map(fd):
            vfd = fd.message_type.fields_by_name["value"]
            out[fd.name] = {k: _value(vfd, value[k], f"{fpath}.{k}") for k in value}
        elif fd.is_repeated:
            out[fd.name] = [_value(fd, v, f"{fpath}[{i}]") for i, v in enumerate(value)]
        else:
            out[fd.name] = _value(fd, value, fpath)
    return out


def _inlined(fd: FieldDesc) -> bool:
    key = fd.full_name
    hit = _INLINE.get(key)
    if hit is None:
        hit = _INLINE[key] = bool(fd.GetOptions().Extensions[inline])
    return hit


def _value(fd: FieldDesc, value: Any, path: str) -> Any:
    if fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        special = _SPECIAL.get(fd.message_type.full_name.removeprefix(_PKG))
        return special(value, path) if special else message(value, path)
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value


def _time(digits: int | None) -> Any:
    def convert(value: Any, _path: str) -> str | None:
        if not value.seconds and not value.nanos:
            return None
        return format_timestamp(Timestamp(seconds=value.seconds, nanos=value.nanos), digits)
    return convert


def _int_or_string(value: Any, _path: str) -> int | str:
    return value.strVal if value.type == 1 else value.intVal


def _json(value: Any, path: str) -> Any:
    try:
        return json.loads(value.raw or b"{}")
    except ValueError:
        raise DecodeError(path, "not valid JSON") from None


_SPECIAL = {
    "Time": _time(None),
    "MicroTime": _time(6),
    "Quantity": lambda value, _path: value.string,
    "IntOrString": _int_or_string,
    "FieldsV1": _json,
    "RawExtension": _json,
}


def _unknown(msg: Message) -> list[Any]:
    found = unknown_fields.UnknownFieldSet(msg)
    return [found[i] for i in range(len(found))]


def _refuse_unknown(msg: Message, path: str) -> None:
    for field in _unknown(msg):
        if not _zero(field.wire_type, field.data):
            raise DecodeError(path, f"field number {field.field_number} of Kubernetes' "
                                    f"{msg.DESCRIPTOR.name} is set, and corral does not "
                                    "serve that field")


def _zero(wire_type: int, data: Any) -> bool:
    """Whether an unknown field holds only zeros ("", 0, false, or a struct of those)."""
    if wire_type == 2:
        return not data or _all_zero(data)
    if wire_type == 3:
        return all(_zero(f.wire_type, f.data) for f in data)
    return data == 0


def _all_zero(data: bytes) -> bool:
    nested = Empty()
    try:
        nested.ParseFromString(data)
    except ProtobufError:
        return False       # a string or bytes that are not a message: not zero
    return all(_zero(f.wire_type, f.data) for f in _unknown(nested))
