"""Decoding manifests: a document as an Object envelope, or any message, walking its
descriptor with the path of every field for errors."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from proto import api_pb2, kinds
from proto.codec.descriptors import (
    INT_OR_STRING,
    STRUCT,
    TIMESTAMP,
    FieldDesc,
    MsgDesc,
    is_map,
    json_fields,
    zero_value,
)
from proto.codec.errors import DecodeError, describe_value, join_path, type_name, unknown_field
from proto.codec.presence import ALWAYS, NULL_WHEN_UNSET
from proto.codec.scalars import INT_RANGES, decode_scalar, decode_timestamp

# String fields (and map<string,string> values) holding quantities: like
# Kubernetes, a bare number (`cpu: 1`, `memory: 128`) is accepted there.
_QUANTITY_FIELDS = frozenset({
    ("corral.v1.ResourceRequirements", "limits"),
    ("corral.v1.ResourceRequirements", "requests"),
    ("corral.v1.NodeStatus", "capacity"),
    ("corral.v1.NodeStatus", "allocatable"),
    ("corral.v1.EmptyDirVolumeSource", "size_limit"),
    ("corral.v1.ResourceFieldSelector", "divisor"),
    ("corral.v1.PersistentVolumeSpec", "capacity"),
    ("corral.v1.VolumeResourceRequirements", "limits"),
    ("corral.v1.VolumeResourceRequirements", "requests"),
    ("corral.v1.PersistentVolumeClaimStatus", "capacity"),
})

# Map fields whose values are secrets: a decoding error names their type, never the value.
_SECRET_VALUE_FIELDS = frozenset({
    ("corral.v1.Secret", "data"),
    ("corral.v1.Secret", "string_data"),
})


def is_quantity(message: str, field: str) -> bool:
    """Whether (message full name, proto field name) holds Kubernetes quantities."""
    return (message, field) in _QUANTITY_FIELDS


def decode(doc: object) -> api_pb2.Object:
    """A manifest (one YAML/JSON document) as an Object envelope."""
    if not isinstance(doc, Mapping):
        raise DecodeError("", f"a manifest must be an object, got {type_name(doc)}")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    for name, value in (("apiVersion", api_version), ("kind", kind)):
        if value is None or value == "":
            raise DecodeError(name, "Required value: every manifest needs apiVersion and kind")
        if not isinstance(value, str):
            raise DecodeError(name, f"expected string, got {describe_value(value)}")
    assert isinstance(api_version, str) and isinstance(kind, str)
    try:
        k = kinds.by_api_version_kind(api_version, kind)
    except kinds.UnknownKind:
        same = [x for x in kinds.KINDS if x.kind == kind]
        if same:
            raise DecodeError(
                "apiVersion", f'no kind "{kind}" is registered for version "{api_version}": '
                              f'{kind} is served as apiVersion "{same[0].api_version}"') from None
        supported = ", ".join(f"{x.kind} ({x.api_version})" for x in kinds.KINDS)
        raise DecodeError(
            "kind", f'no kind "{kind}" is registered for version "{api_version}"; '
                    f"supported: {supported}") from None
    msg = decode_message(doc, k.message)
    out = api_pb2.Object()
    getattr(out, k.field).CopyFrom(msg)
    return out


def decode_message(doc: object, message_cls: type[Message], path: str = "") -> Message:
    """Decode `doc` into a new message of `message_cls`; errors carry `path`."""
    msg = message_cls()
    _decode_into(msg, doc, path)
    return msg


def _decode_into(msg: Message, doc: object, path: str) -> None:
    desc: MsgDesc = msg.DESCRIPTOR
    if not isinstance(doc, Mapping):
        raise DecodeError(path, f"expected object, got {describe_value(doc)}")
    fields = json_fields(desc)
    always = ALWAYS.get(desc.full_name, frozenset())
    for key, value in doc.items():
        if not isinstance(key, str):
            raise DecodeError(path, f"field names must be strings, got {describe_value(key)}")
        fd = fields.get(key)
        if fd is None:
            raise unknown_field(path, key, desc)
        if value is None:
            continue
        fpath = join_path(path, key)
        quantity_ok = (desc.full_name, fd.name) in _QUANTITY_FIELDS
        if is_map(fd):
            _decode_map(msg, fd, value, fpath, quantity_ok,
                        (desc.full_name, fd.name) in _SECRET_VALUE_FIELDS)
        elif fd.is_repeated:
            if not isinstance(value, list | tuple):
                raise DecodeError(fpath, f"expected array, got {describe_value(value)}")
            container = getattr(msg, fd.name)
            for i, item in enumerate(value):
                ipath = f"{fpath}[{i}]"
                if item is None:
                    raise DecodeError(ipath, "null is not allowed in an array")
                if fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
                    _decode_message_value(container.add(), item, ipath)
                else:
                    container.append(decode_scalar(fd, item, ipath, quantity_ok))
        elif fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            sub = getattr(msg, fd.name)
            _decode_message_value(sub, value, fpath)
            if key in always and not sub.ByteSize() and fd.message_type.full_name != TIMESTAMP \
                    and (desc.full_name, fd.name) not in NULL_WHEN_UNSET:
                msg.ClearField(fd.name)   # a struct Kubernetes always writes: {} is unset
        else:
            setattr(msg, fd.name, decode_scalar(fd, value, fpath, quantity_ok))


def _decode_map(msg: Message, fd: FieldDesc, value: object, path: str,
                quantity_ok: bool, redact: bool = False) -> None:
    if not isinstance(value, Mapping):
        shown = type_name(value) if redact else describe_value(value)
        raise DecodeError(path, f"expected object (map), got {shown}")
    vfd: FieldDesc = fd.message_type.fields_by_name["value"]
    kfd = fd.message_type.fields_by_name["key"]
    container = getattr(msg, fd.name)
    for k, v in value.items():
        if not isinstance(k, str):
            raise DecodeError(path, f"map keys must be strings, got {describe_value(k)}")
        kpath = join_path(path, k)
        key = decode_scalar(kfd, k, kpath, False)
        if vfd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            if v is None:
                _ = container[key]  # creates the entry
                continue
            _decode_message_value(container[key], v, kpath)
        else:
            if v is None:  # like Kubernetes: a null map value is the zero value
                container[key] = decode_scalar(vfd, zero_value(vfd), kpath, False)
                continue
            container[key] = decode_scalar(vfd, v, kpath, quantity_ok, redact)


def _decode_message_value(target: Message, value: object, path: str) -> None:
    name = target.DESCRIPTOR.full_name
    if name == TIMESTAMP:
        assert isinstance(target, Timestamp)
        target.CopyFrom(decode_timestamp(value, path))
    elif name == STRUCT:
        if not isinstance(value, Mapping):
            raise DecodeError(path, f"expected object, got {describe_value(value)}")
        try:
            json_format.ParseDict(dict(value), target)
        except json_format.ParseError as e:
            raise DecodeError(path, str(e)) from None
    elif name == INT_OR_STRING:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise DecodeError(path, f"expected integer or string, got {describe_value(value)}")
        if isinstance(value, int):
            lo, hi = INT_RANGES[FieldDescriptor.CPPTYPE_INT32]
            if not lo <= value <= hi:
                raise DecodeError(path, f"integer {value} is out of range")
            target.int_val = value  # type: ignore[attr-defined]
        else:
            target.str_val = value  # type: ignore[attr-defined]
    else:
        _decode_into(target, value, path)
        target.SetInParent()

