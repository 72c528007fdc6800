"""What decoding and encoding share about the schema: the well-known message names,
field lookup by JSON name, map fields and zero values."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor

TIMESTAMP = "google.protobuf.Timestamp"
INT_OR_STRING = "corral.v1.IntOrString"
STRUCT = "google.protobuf.Struct"       # free-form JSON (managedFields' fieldsV1)

# Descriptors come from upb at run time and from descriptor.py in the stubs;
# they are typed loosely here.
FieldDesc = Any
MsgDesc = Any

_FIELDS_CACHE: dict[str, dict[str, FieldDesc]] = {}


def json_fields(desc: MsgDesc) -> dict[str, FieldDesc]:
    cached = _FIELDS_CACHE.get(desc.full_name)
    if cached is None:
        cached = {f.json_name: f for f in desc.fields}
        _FIELDS_CACHE[desc.full_name] = cached
    return cached


def is_map(fd: FieldDesc) -> bool:
    mt = fd.message_type
    return bool(fd.is_repeated and mt is not None and mt.GetOptions().map_entry)


def zero_value(fd: FieldDesc) -> object:
    if fd.cpp_type == FieldDescriptor.CPPTYPE_STRING:
        return b"" if fd.type == FieldDescriptor.TYPE_BYTES else ""
    if fd.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        return False
    if fd.cpp_type in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
        return 0.0
    return 0
