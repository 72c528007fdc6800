"""Manifest dicts (parsed YAML/JSON) <-> protobuf messages, by walking descriptors.

    decode(doc) -> api_pb2.Object          apiVersion + kind pick the message
    decode_message(doc, core_pb2.PodSpec)   any message, no envelope
    encode(obj) -> dict                     Kubernetes' JSON form
    to_json(obj) -> str

Every field goes by its JSON name (restartPolicy, podIP, containerID, Port).
Decoding is strict and names the place of every problem:

    spec.template.spec.containers[0].imagePullPolcy: unknown field "imagePullPolcy"
        (did you mean "imagePullPolicy"?)

json_format is not used for decoding: it neither reports full paths nor knows
Kubernetes' leniencies (numbers as quantities, IntOrString, null = absent).
"""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from proto import api_pb2, kinds, quantity

__all__ = [
    "DecodeError",
    "decode",
    "decode_message",
    "encode",
    "encode_list",
    "format_timestamp",
    "to_json",
]

_TIMESTAMP = "google.protobuf.Timestamp"
_INT_OR_STRING = "corral.v1.IntOrString"

# String fields (and map<string,string> values) holding quantities: like
# Kubernetes, a bare number (`cpu: 1`, `memory: 128`) is accepted there.
_QUANTITY_FIELDS = frozenset({
    ("corral.v1.ResourceRequirements", "limits"),
    ("corral.v1.ResourceRequirements", "requests"),
    ("corral.v1.NodeStatus", "capacity"),
    ("corral.v1.NodeStatus", "allocatable"),
    ("corral.v1.EmptyDirVolumeSource", "size_limit"),
    ("corral.v1.ResourceFieldSelector", "divisor"),
})

_INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}


# Descriptors come from upb at run time and from descriptor.py in the stubs;
# they are typed loosely here.
_FieldDesc = Any
_MsgDesc = Any


class DecodeError(ValueError):
    """A manifest that does not fit the schema; `path` says where."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


# ---- helpers ------------------------------------------------------------------

def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _type_name(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Mapping):
        return "object"
    if isinstance(v, list | tuple):
        return "array"
    return type(v).__name__


def _got(v: object) -> str:
    t = _type_name(v)
    if isinstance(v, bool | int | float):
        return f"{t} {json.dumps(v)}"
    if isinstance(v, str):
        return f"{t} {json.dumps(v)}"
    return t


_FIELDS_CACHE: dict[str, dict[str, _FieldDesc]] = {}


def _json_fields(desc: _MsgDesc) -> dict[str, _FieldDesc]:
    cached = _FIELDS_CACHE.get(desc.full_name)
    if cached is None:
        cached = {f.json_name: f for f in desc.fields}
        _FIELDS_CACHE[desc.full_name] = cached
    return cached


def _is_map(fd: _FieldDesc) -> bool:
    mt = fd.message_type
    return bool(fd.is_repeated and mt is not None and mt.GetOptions().map_entry)


def _unknown(path: str, key: str, desc: _MsgDesc) -> DecodeError:
    names = list(_json_fields(desc))
    hint = ""
    by_lower = {n.lower(): n for n in names}
    by_proto = {f.name: f.json_name for f in desc.fields}
    close = (by_proto.get(key) or by_lower.get(key.lower().replace("_", ""))
             or by_lower.get(key.lower()))
    if close is None:
        matches = difflib.get_close_matches(key, names, n=1, cutoff=0.75)
        close = matches[0] if matches else None
    if close is not None:
        hint = f' (did you mean "{close}"?)'
    return DecodeError(_join(path, key), f'unknown field "{key}"{hint}')


# ---- decoding -----------------------------------------------------------------

def decode(doc: object) -> api_pb2.Object:
    """A manifest (one YAML/JSON document) as an Object envelope."""
    if not isinstance(doc, Mapping):
        raise DecodeError("", f"a manifest must be an object, got {_type_name(doc)}")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    for name, value in (("apiVersion", api_version), ("kind", kind)):
        if value is None or value == "":
            raise DecodeError(name, "Required value: every manifest needs apiVersion and kind")
        if not isinstance(value, str):
            raise DecodeError(name, f"expected string, got {_got(value)}")
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
    desc: _MsgDesc = msg.DESCRIPTOR
    if not isinstance(doc, Mapping):
        raise DecodeError(path, f"expected object, got {_got(doc)}")
    fields = _json_fields(desc)
    for key, value in doc.items():
        if not isinstance(key, str):
            raise DecodeError(path, f"field names must be strings, got {_got(key)}")
        fd = fields.get(key)
        if fd is None:
            raise _unknown(path, key, desc)
        if value is None:
            continue
        fpath = _join(path, key)
        quantity_ok = (desc.full_name, fd.name) in _QUANTITY_FIELDS
        if _is_map(fd):
            _decode_map(msg, fd, value, fpath, quantity_ok)
        elif fd.is_repeated:
            if not isinstance(value, list | tuple):
                raise DecodeError(fpath, f"expected array, got {_got(value)}")
            container = getattr(msg, fd.name)
            for i, item in enumerate(value):
                ipath = f"{fpath}[{i}]"
                if item is None:
                    raise DecodeError(ipath, "null is not allowed in an array")
                if fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
                    _decode_message_value(container.add(), item, ipath)
                else:
                    container.append(_scalar(fd, item, ipath, quantity_ok))
        elif fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            _decode_message_value(getattr(msg, fd.name), value, fpath)
        else:
            setattr(msg, fd.name, _scalar(fd, value, fpath, quantity_ok))


def _decode_map(msg: Message, fd: _FieldDesc, value: object, path: str,
                quantity_ok: bool) -> None:
    if not isinstance(value, Mapping):
        raise DecodeError(path, f"expected object (map), got {_got(value)}")
    vfd: _FieldDesc = fd.message_type.fields_by_name["value"]
    kfd = fd.message_type.fields_by_name["key"]
    container = getattr(msg, fd.name)
    for k, v in value.items():
        if not isinstance(k, str):
            raise DecodeError(path, f"map keys must be strings, got {_got(k)}")
        kpath = _join(path, k)
        key = _scalar(kfd, k, kpath, False)
        if vfd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            if v is None:
                _ = container[key]  # creates the entry
                continue
            _decode_message_value(container[key], v, kpath)
        else:
            if v is None:  # like Kubernetes: a null map value is the zero value
                container[key] = _scalar(vfd, _zero(vfd), kpath, False)
                continue
            container[key] = _scalar(vfd, v, kpath, quantity_ok)


def _zero(fd: _FieldDesc) -> object:
    if fd.cpp_type == FieldDescriptor.CPPTYPE_STRING:
        return b"" if fd.type == FieldDescriptor.TYPE_BYTES else ""
    if fd.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        return False
    if fd.cpp_type in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
        return 0.0
    return 0


def _decode_message_value(target: Message, value: object, path: str) -> None:
    name = target.DESCRIPTOR.full_name
    if name == _TIMESTAMP:
        assert isinstance(target, Timestamp)
        target.CopyFrom(_timestamp(value, path))
    elif name == _INT_OR_STRING:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise DecodeError(path, f"expected integer or string, got {_got(value)}")
        if isinstance(value, int):
            lo, hi = _INT_RANGES[FieldDescriptor.CPPTYPE_INT32]
            if not lo <= value <= hi:
                raise DecodeError(path, f"integer {value} is out of range")
            target.int_val = value  # type: ignore[attr-defined]
        else:
            target.str_val = value  # type: ignore[attr-defined]
    else:
        _decode_into(target, value, path)
        target.SetInParent()


def _timestamp(value: object, path: str) -> Timestamp:
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
        raise DecodeError(path, f"expected RFC 3339 timestamp string, got {_got(value)}")
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


def _scalar(fd: _FieldDesc, value: object, path: str, quantity_ok: bool) -> Any:
    ct = fd.cpp_type
    if ct == FieldDescriptor.CPPTYPE_STRING:
        if fd.type == FieldDescriptor.TYPE_BYTES:
            if not isinstance(value, str):
                raise DecodeError(path, f"expected base64 string, got {_got(value)}")
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                raise DecodeError(path, "invalid base64 data") from None
        if isinstance(value, str):
            return value
        if quantity_ok and isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return quantity.from_number(value)
            except quantity.QuantityError as e:
                raise DecodeError(path, e.reason) from None
        raise DecodeError(path, f"expected string, got {_got(value)}")
    if ct == FieldDescriptor.CPPTYPE_BOOL:
        if not isinstance(value, bool):
            raise DecodeError(path, f"expected boolean, got {_got(value)}")
        return value
    if ct in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # JSON has one number type: 3.0 is 3
            else:
                raise DecodeError(path, f"expected integer, got {_got(value)}")
        lo, hi = _INT_RANGES[ct]
        if not lo <= value <= hi:
            raise DecodeError(path, f"integer {value} is out of range [{lo}, {hi}]")
        return value
    if ct in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DecodeError(path, f"expected number, got {_got(value)}")
        return float(value)
    if ct == FieldDescriptor.CPPTYPE_ENUM:
        et: Any = fd.enum_type
        if isinstance(value, str) and value in et.values_by_name:
            return et.values_by_name[value].number
        if isinstance(value, int) and not isinstance(value, bool) and value in et.values_by_number:
            return value
        supported = ", ".join(f'"{v.name}"' for v in et.values)
        raise DecodeError(path, f"Unsupported value: {_got(value)}: supported values: {supported}")
    raise DecodeError(path, f"unsupported field type {ct}")  # pragma: no cover


# ---- encoding -----------------------------------------------------------------

def encode(obj: Message, *, precise: bool = False) -> dict[str, Any]:
    """Kubernetes' JSON form of an Object envelope or any message.

    For API kinds, apiVersion and kind come first (from the kind table, even
    when the message leaves them empty). Scalars at their zero value and empty
    lists/maps are left out; proto3 `optional` scalars that are set and
    messages that are set are kept, even when zero/empty (`emptyDir: {}`).

    Timestamps are RFC 3339 in UTC with seconds precision, like Kubernetes'
    metav1.Time ("2024-01-31T12:00:00Z"); the Lease's acquireTime/renewTime
    are MicroTime (".123456Z"). With `precise=True` every fraction of a second
    is kept, so decode(encode(x, precise=True)) == x for every x.
    """
    if isinstance(obj, api_pb2.Object):
        if obj.WhichOneof("kind") is None:
            return {}
        obj = kinds.unwrap(obj)
    out = _encode_message(obj, precise)
    for k in kinds.KINDS:
        if isinstance(obj, k.message):
            head: dict[str, Any] = {"apiVersion": k.api_version, "kind": k.kind}
            head.update((key, v) for key, v in out.items() if key not in head)
            return head
    return out


def encode_list(items: api_pb2.ObjectList | Iterable[api_pb2.Object], *,
                precise: bool = False) -> dict[str, Any]:
    """Several objects as kubectl prints them: a v1 List (resourceVersion from an ObjectList)."""
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "List"}
    if isinstance(items, api_pb2.ObjectList):
        out["items"] = [encode(o, precise=precise) for o in items.items]
        out["metadata"] = {"resourceVersion": items.resource_version}
    else:
        out["items"] = [encode(o, precise=precise) for o in items]
        out["metadata"] = {"resourceVersion": ""}
    return out


def to_json(obj: Message, indent: int | None = 2, *, precise: bool = False) -> str:
    return json.dumps(encode(obj, precise=precise), indent=indent)


# Kubernetes' MicroTime fields: always six fractional digits.
_MICRO_TIME_FIELDS = frozenset({
    ("corral.v1.LeaseSpec", "acquire_time"),
    ("corral.v1.LeaseSpec", "renew_time"),
})


def _encode_message(msg: Message, precise: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    fd: _FieldDesc
    desc = msg.DESCRIPTOR
    for fd in desc.fields:
        value = getattr(msg, fd.name)
        if _is_map(fd):
            if len(value):
                vfd = fd.message_type.fields_by_name["value"]
                out[fd.json_name] = {k: _encode_value(vfd, value[k], precise)
                                     for k in sorted(value)}
        elif fd.is_repeated:
            if len(value):
                out[fd.json_name] = [_encode_value(fd, v, precise) for v in value]
        elif fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            if msg.HasField(fd.name):
                if (desc.full_name, fd.name) in _MICRO_TIME_FIELDS and not precise:
                    out[fd.json_name] = format_timestamp(value, digits=6)
                    continue
                encoded = _encode_value(fd, value, precise)
                if encoded is not None:
                    out[fd.json_name] = encoded
        elif fd.has_presence:
            if msg.HasField(fd.name):
                out[fd.json_name] = _encode_value(fd, value, precise)
        elif value != _zero(fd):
            out[fd.json_name] = _encode_value(fd, value, precise)
    return out


def _encode_value(fd: _FieldDesc, value: Any, precise: bool) -> Any:
    ct = fd.cpp_type
    if ct == FieldDescriptor.CPPTYPE_MESSAGE:
        name = fd.message_type.full_name
        if name == _TIMESTAMP:
            return format_timestamp(value, digits=None if precise else 0)
        if name == _INT_OR_STRING:
            which = value.WhichOneof("value")
            return None if which is None else getattr(value, which)
        return _encode_message(value, precise)
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
