"""Every field of corral's schema has its twin in Kubernetes' wire form (proto/kubepb_*),
so a body from client-go's typed clients can carry anything a JSON body can."""

from __future__ import annotations

from typing import Any

import pytest

from proto import kinds
from proto.kubepb_meta_pb2 import inline
from proto.wire.messages import MESSAGES

# corral's special messages -> the wire messages that carry them
SPECIAL = {
    "google.protobuf.Timestamp": {"Time", "MicroTime"},
    "google.protobuf.Struct": {"FieldsV1"},
    "corral.v1.IntOrString": {"IntOrString"},
}


def _flat(desc: Any) -> dict[str, Any]:
    """A wire message's fields by JSON name, inlined structs' fields among them."""
    out: dict[str, Any] = {}
    for fd in desc.fields:
        if fd.GetOptions().Extensions[inline]:
            out.update(_flat(fd.message_type))
        else:
            out[fd.name] = fd
    return out


def _is_map(fd: Any) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def _compare(c: Any, w: Any, path: str, seen: set[tuple[str, str]], out: list[str]) -> None:
    if _is_map(c) != _is_map(w) or c.is_repeated != w.is_repeated:
        shape = "a map" if _is_map(c) else "a list" if c.is_repeated else "one value"
        out.append(f"{path}: corral's is {shape}, the wire's is not")
        return
    if _is_map(c):
        c, w = c.message_type.fields_by_name["value"], w.message_type.fields_by_name["value"]
    if c.message_type is None:
        if w.message_type is not None:
            if not (w.message_type.name == "Quantity" and c.type == c.TYPE_STRING):
                out.append(f"{path}: corral has a scalar, the wire a {w.message_type.name}")
        elif c.type != w.type:
            out.append(f"{path}: type {c.type} in corral, {w.type} on the wire")
        return
    special = SPECIAL.get(c.message_type.full_name)
    if special is not None:
        if w.message_type is None or w.message_type.name not in special:
            out.append(f"{path}: {c.message_type.full_name} needs one of {sorted(special)}")
        return
    if w.message_type is None:
        out.append(f"{path}: corral has a {c.message_type.name}, the wire a scalar")
        return
    if w.message_type.name == "RawExtension":
        return               # any object, as JSON (ControllerRevision's data)
    _walk(c.message_type, w.message_type, path, seen, out)


def _walk(c: Any, w: Any, path: str, seen: set[tuple[str, str]], out: list[str]) -> None:
    if (c.full_name, w.full_name) in seen:
        return
    seen.add((c.full_name, w.full_name))
    wire = _flat(w)
    for f in c.fields:
        if f.json_name in ("apiVersion", "kind") and "metadata" in c.fields_by_name:
            continue         # an object's: in the envelope, never in its message
        fpath = f"{path}.{f.json_name}" if path else f.json_name
        twin = wire.get(f.json_name)
        if twin is None:
            out.append(f"{fpath}: no field {f.json_name} in the wire's {w.name}")
            continue
        _compare(f, twin, fpath, seen, out)


@pytest.mark.parametrize("kind", kinds.KINDS, ids=lambda k: k.kind)
def test_every_field_of_a_served_kind_has_a_wire_twin(kind: kinds.Kind) -> None:
    wire = MESSAGES.get((kind.api_version, kind.kind))
    assert wire is not None, (
        f"{kind.api_version} {kind.kind} has no Kubernetes protobuf form: add its messages "
        "to proto/kubepb_*.proto (Kubernetes' field numbers) and proto/wire/messages.py, "
        "or kubectl's generators and Go clients cannot create it")
    problems: list[str] = []
    _walk(kind.message.DESCRIPTOR, wire.DESCRIPTOR, "", set(), problems)
    assert not problems, "\n".join(problems)


def test_the_twin_check_finds_a_missing_field() -> None:
    from proto import core_pb2
    from proto.kubepb_core_pb2 import NamespaceStatus

    problems: list[str] = []
    _walk(core_pb2.NamespaceSpec.DESCRIPTOR, NamespaceStatus.DESCRIPTOR, "spec", set(),
          problems)
    assert problems == ["spec.finalizers: no field finalizers in the wire's NamespaceStatus"]
