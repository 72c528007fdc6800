"""OpenAPI schemas of the kinds, generated from the protobuf schema the codec decodes
with (so the documents name exactly the fields corral accepts), with Kubernetes'
definition names and extensions:

    defs = definitions(kinds.KINDS, ref=lambda n: "#/definitions/" + n)
    defs["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"]
    # [{"group": "", "version": "v1", "kind": "Pod"}]

Lists carry x-kubernetes-patch-strategy / -patch-merge-key (strategic merge patch, as
kubectl reads them) and x-kubernetes-list-type / -list-map-keys (server-side apply),
from proto/patch/meta.py. Names: a kind's message is io.k8s.api.<group>.<version>.<Kind>
("core" for the core group); meta.proto's messages are apimachinery's meta/v1; another
message takes the group of the kinds that use it, or of its file's first kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from proto import codec, descriptions, kinds
from proto.patch import meta as patchmeta

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
TIME, MICRO_TIME = META + "Time", META + "MicroTime"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
FIELDS_V1 = META + "FieldsV1"
_WELL_KNOWN = {"google.protobuf.Timestamp": TIME, "corral.v1.IntOrString": INT_OR_STRING,
               "google.protobuf.Struct": FIELDS_V1}
_SCALARS = {
    FieldDescriptor.CPPTYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.CPPTYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.CPPTYPE_UINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.CPPTYPE_INT64: {"type": "integer", "format": "int64"},
    FieldDescriptor.CPPTYPE_UINT64: {"type": "integer", "format": "int64"},
    FieldDescriptor.CPPTYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.CPPTYPE_FLOAT: {"type": "number", "format": "double"},
    FieldDescriptor.CPPTYPE_STRING: {"type": "string"},
    FieldDescriptor.CPPTYPE_ENUM: {"type": "string"},
}
SHARED: dict[str, dict[str, Any]] = {
    TIME: {"description": "Time is a wrapper around time.Time which supports correct "
                          "marshaling to YAML and JSON (RFC 3339).",
           "type": "string", "format": "date-time"},
    MICRO_TIME: {"description": "MicroTime is version of Time with microsecond level "
                                "precision.", "type": "string", "format": "date-time"},
    INT_OR_STRING: {"description": "IntOrString is a type that can hold an int32 or a "
                                   "string.", "type": "string", "format": "int-or-string"},
    FIELDS_V1: {"description": "FieldsV1 stores a set of fields in a data structure like a "
                               "Trie, in JSON format.", "type": "object"},
    QUANTITY: {"description": "Quantity is a fixed-point representation of a number "
                              "(\"250m\", \"128Mi\", \"1\").", "type": "string"},
}

Ref = Callable[[str], str]


def group_package(api_version: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"io.k8s.api.{group.split('.')[0] if group else 'core'}.{version}"


def gvk(k: kinds.Kind) -> dict[str, str]:
    group, _, version = k.api_version.rpartition("/")
    return {"group": group, "kind": k.kind, "version": version}


class _Namer:
    """Definition names of every message reachable from the kinds."""

    def __init__(self, table: Iterable[kinds.Kind]) -> None:
        self.names: dict[str, str] = {}
        users: dict[str, set[str]] = {}
        home: dict[str, str] = {}
        self.order: list[Any] = []
        for k in table:
            desc = k.message.DESCRIPTOR
            home.setdefault(desc.file.name, group_package(k.api_version))
            for d in self._walk(desc):
                users.setdefault(d.full_name, set()).add(group_package(k.api_version))
            self.names[desc.full_name] = f"{group_package(k.api_version)}.{k.kind}"
        for d in self.order:
            if d.full_name in self.names:
                continue
            if d.file.name.endswith("meta.proto") and d.name != "ObjectReference":
                self.names[d.full_name] = META + d.name
                continue
            pkgs = users.get(d.full_name, set())
            pkg = next(iter(pkgs)) if len(pkgs) == 1 else \
                home.get(d.file.name, "io.k8s.api.core.v1")
            self.names[d.full_name] = f"{pkg}.{d.name}"

    def _walk(self, desc: Any, seen: set[str] | None = None) -> list[Any]:
        seen = set() if seen is None else seen
        if desc.full_name in seen or desc.full_name in _WELL_KNOWN:
            return []
        seen.add(desc.full_name)
        if desc not in self.order:
            self.order.append(desc)
        out = [desc]
        for fd in desc.fields:
            mt = fd.message_type
            if mt is None:
                continue
            if mt.GetOptions().map_entry:
                mt = mt.fields_by_name["value"].message_type
                if mt is None:
                    continue
            out += self._walk(mt, seen)
        return out


def definitions(table: Iterable[kinds.Kind], ref: Ref) -> dict[str, dict[str, Any]]:
    table = list(table)
    namer = _Namer(table)
    by_message = {k.message.DESCRIPTOR.full_name: k for k in table}
    out: dict[str, dict[str, Any]] = {name: dict(s) for name, s in SHARED.items()}
    for desc in namer.order:
        k = by_message.get(desc.full_name)
        schema = _message_schema(desc, namer.names, ref, is_kind=k is not None)
        if k is not None:
            schema["x-kubernetes-group-version-kind"] = [gvk(k)]
        if desc.full_name in patchmeta.ATOMIC_STRUCTS:
            schema["x-kubernetes-map-type"] = "atomic"
        out[namer.names[desc.full_name]] = schema
    return out


def definition_name(k: kinds.Kind) -> str:
    return f"{group_package(k.api_version)}.{k.kind}"


def _message_schema(desc: Any, names: dict[str, str], ref: Ref,
                    is_kind: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for fd in desc.fields:
        text = (descriptions.of_kind_field if is_kind else descriptions.of)(desc.full_name,
                                                                             fd.name)
        props[fd.json_name] = _described(_field_schema(desc, fd, names, ref), text)
    out: dict[str, Any] = {"type": "object", "properties": props}
    return _described(out, descriptions.of(desc.full_name))


def _described(schema: dict[str, Any], text: str) -> dict[str, Any]:
    """The schema with its description (a lone $ref goes into allOf, as Kubernetes has it,
    so the description beside it counts)."""
    if not text:
        return schema
    if set(schema) == {"$ref"}:
        return {"allOf": [schema], "description": text}
    return {**schema, "description": text}


def _value_schema(desc: Any, fd: Any, names: dict[str, str], ref: Ref) -> dict[str, Any]:
    mt = fd.message_type
    if mt is not None:
        if codec.is_micro_time(desc.full_name, fd.name):
            return {"$ref": ref(MICRO_TIME)}
        name = _WELL_KNOWN.get(mt.full_name) or names[mt.full_name]
        return {"$ref": ref(name)}
    if codec.is_quantity(desc.full_name, fd.name):
        return {"$ref": ref(QUANTITY)}
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "format": "byte"}
    return dict(_SCALARS[fd.cpp_type])


def _field_schema(desc: Any, fd: Any, names: dict[str, str], ref: Ref) -> dict[str, Any]:
    mt = fd.message_type
    if mt is not None and mt.GetOptions().map_entry:
        value_fd = mt.fields_by_name["value"]
        value = _value_schema(desc, value_fd, names, ref)
        if codec.is_quantity(desc.full_name, fd.name):
            value = {"$ref": ref(QUANTITY)}
        return {"type": "object", "additionalProperties": value}
    item = _value_schema(desc, fd, names, ref)
    pm = patchmeta.field_meta(desc, fd.json_name)
    if not fd.is_repeated:
        if pm.strategy and "$ref" in item:
            return {"allOf": [item], "x-kubernetes-patch-strategy": pm.strategy}
        return item
    out: dict[str, Any] = {"type": "array", "items": item}
    if pm.strategy:
        out["x-kubernetes-patch-strategy"] = pm.strategy
    if pm.merge_key:
        out["x-kubernetes-patch-merge-key"] = pm.merge_key
    out["x-kubernetes-list-type"] = pm.list_type
    if pm.list_type == "map":
        out["x-kubernetes-list-map-keys"] = list(pm.map_keys)
    return out
