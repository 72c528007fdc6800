"""Decoding scalar values (strings, quantities, numbers in range, enums, bytes) and
RFC 3339 timestamps, strictly."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.timestamp_pb2 import Timestamp

from proto import quantity
from proto.codec.descriptors import FieldDesc
from proto.codec.errors import DecodeError, describe_value, type_name

INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}


def decode_timestamp(value: object, path: str) -> Timestamp:
    ts = Timestamp()
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, str):
        text = value.strip()
        try:
            when = dt.datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise DecodeError(path, f'invalid timestamp "{value}": expected RFC 3339, '
                                    'e.g. "2024-01-31T12:00:00Z"') from None
        if when.tzinfo is None or "T" not in text.upper():
            raise DecodeError(path, f'invalid timestamp "{value}": expected RFC 3339 with a '
                                    'time zone, e.g. "2024-01-31T12:00:00Z"')
        nanos = _fraction_nanos(text)
        ts.FromDatetime(when.replace(microsecond=0))
        ts.nanos = nanos
        return ts
    else:
        raise DecodeError(path, f"expected RFC 3339 timestamp string, got {describe_value(value)}")
    ts.FromDatetime(when)
    return ts


def _fraction_nanos(text: str) -> int:
    """Nanoseconds of an RFC 3339 string's fractional seconds (datetime keeps only micros)."""
    t = text.upper().partition("T")[2]
    if "." not in t:
        return 0
    digits = ""
    for c in t.partition(".")[2]:
        if not c.isdigit():
            break
        digits += c
    return int((digits + "000000000")[:9])


_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def decode_base64(text: str, path: str) -> bytes:
    """Standard base64 with padding, as Kubernetes' []byte fields take it (line breaks are
    ignored); an error names the first bad byte, never the data."""
    raw = text.encode("utf-8", "surrogatepass")
    data = bytearray()
    first_pad = -1
    for i, b in enumerate(raw):
        if b in (0x0A, 0x0D):
            continue
        if b == 0x3D:  # "="
            first_pad = i if first_pad < 0 else first_pad
        elif b not in _B64:
            raise DecodeError(path, f"illegal base64 data at input byte {i}")
        elif first_pad >= 0:        # data after the padding: the padding is wrong
            raise DecodeError(path, f"illegal base64 data at input byte {first_pad}")
        data.append(b)
    try:
        return base64.b64decode(bytes(data), validate=True)
    except ValueError:
        at = first_pad if first_pad >= 0 else len(raw)
        raise DecodeError(path, f"illegal base64 data at input byte {at}") from None


def decode_scalar(fd: FieldDesc, value: object, path: str, quantity_ok: bool,
                  redact: bool = False) -> Any:
    """One scalar; `redact`: a secret's value, so errors name its type, never the value."""
    show = type_name if redact else describe_value
    ct = fd.cpp_type
    if ct == FieldDescriptor.CPPTYPE_STRING:
        if fd.type == FieldDescriptor.TYPE_BYTES:
            if not isinstance(value, str):
                raise DecodeError(path, f"expected base64 string, got {show(value)}")
            return decode_base64(value, path)
        if isinstance(value, str):
            return value
        if quantity_ok and isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return quantity.from_number(value)
            except quantity.QuantityError as e:
                raise DecodeError(path, e.reason) from None
        raise DecodeError(path, f"expected string, got {show(value)}")
    if ct == FieldDescriptor.CPPTYPE_BOOL:
        if not isinstance(value, bool):
            raise DecodeError(path, f"expected boolean, got {describe_value(value)}")
        return value
    if ct in INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # JSON has one number type: 3.0 is 3
            else:
                raise DecodeError(path, f"expected integer, got {describe_value(value)}")
        lo, hi = INT_RANGES[ct]
        if not lo <= value <= hi:
            raise DecodeError(path, f"integer {value} is out of range [{lo}, {hi}]")
        return value
    if ct in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DecodeError(path, f"expected number, got {describe_value(value)}")
        return float(value)
    if ct == FieldDescriptor.CPPTYPE_ENUM:
        et: Any = fd.enum_type
        if isinstance(value, str) and value in et.values_by_name:
            return et.values_by_name[value].number
        if isinstance(value, int) and not isinstance(value, bool) and value in et.values_by_number:
            return value
        supported = ", ".join(f'"{v.name}"' for v in et.values)
        raise DecodeError(path, f"Unsupported value: {describe_value(value)}: "
                                f"supported values: {supported}")
    raise DecodeError(path, f"unsupported field type {ct}")  # pragma: no cover
