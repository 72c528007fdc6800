"""The other direction, for the tests: a Kubernetes JSON document as the protobuf body
client-go would send ("k8s\\0" + runtime.Unknown), written against proto/kubepb_*.proto."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from proto.kubepb_meta_pb2 import Unknown, inline
from proto.wire.messages import MESSAGES


def body(doc: dict[str, Any]) -> bytes:
    """The enveloped protobuf body of a JSON document (its apiVersion and kind)."""
    msg = MESSAGES[(doc["apiVersion"], doc["kind"])]()
    fill(msg, {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")})
    envelope = Unknown(raw=msg.SerializeToString())
    envelope.typeMeta.apiVersion, envelope.typeMeta.kind = doc["apiVersion"], doc["kind"]
    return b"k8s\x00" + envelope.SerializeToString()


def fill(msg: Message, doc: dict[str, Any]) -> None:
    fields = msg.DESCRIPTOR.fields_by_name
    for key, value in doc.items():
        if key in fields:
            _set(msg, fields[key], value)
            continue
        for fd in msg.DESCRIPTOR.fields:
            if fd.GetOptions().Extensions[inline] and key in fd.message_type.fields_by_name:
                fill(getattr(msg, fd.name), {key: value})
                break
        else:
            raise KeyError(f"{msg.DESCRIPTOR.name} has no field {key}")


def _set(msg: Message, fd: Any, value: Any) -> None:
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        vfd = fd.message_type.fields_by_name["value"]
        target = getattr(msg, fd.name)
        for k, v in value.items():
            if vfd.message_type is not None:
                _message(target[k], v)
            else:
                target[k] = _scalar(vfd, v)
    elif fd.is_repeated:
        target = getattr(msg, fd.name)
        for v in value:
            if fd.message_type is not None:
                _message(target.add(), v)
            else:
                target.append(_scalar(fd, v))
    elif fd.message_type is not None:
        _message(getattr(msg, fd.name), value)
    else:
        setattr(msg, fd.name, _scalar(fd, value))


def _message(target: Any, value: Any) -> None:
    name = target.DESCRIPTOR.name
    if name in ("Time", "MicroTime"):
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        target.seconds, target.nanos = int(when.timestamp()), when.microsecond * 1000
    elif name == "Quantity":
        target.string = value
    elif name == "IntOrString":
        if isinstance(value, str):
            target.type, target.strVal = 1, value
        else:
            target.type, target.intVal = 0, value
    elif name == "FieldsV1":
        target.raw = json.dumps(value).encode()
    else:
        fill(target, value)
        target.SetInParent()


def _scalar(fd: Any, value: Any) -> Any:
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64decode(value)
    return value
