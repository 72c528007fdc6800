"""metadata.managedFields: who owns which fields, and how an update moves ownership.

    owners = Owners.of(obj)                   # from the stored entries
    owners.track_update(old_doc, new_doc, "kubectl-edit", desc)   # an update's changes
    owners.write(obj)                         # back into metadata.managedFields

An Update takes the fields it changed from everyone else (no conflicts for updates,
as in Kubernetes); fields it removed leave every owner; entries left empty go.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from controlplane.apiserver import objects as o
from controlplane.apiserver.fieldmanager import fieldpath
from controlplane.apiserver.fieldmanager.fieldpath import MISSING, Path
from proto import api_pb2, kinds, meta_pb2


@dataclass
class Entry:
    manager: str
    operation: str            # Apply, Update
    subresource: str = ""
    api_version: str = ""
    paths: set[Path] = field(default_factory=set)
    time: Timestamp | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.manager, self.operation, self.subresource


def manager_from(field_manager: str, user_agent: str) -> str:
    """fieldManager, else the user agent's program name, like Kubernetes."""
    if field_manager:
        return field_manager[:128]
    return (user_agent.split("/")[0] or "unknown")[:128]


def _now() -> Timestamp:
    ts = Timestamp()
    ts.FromSeconds(int(time.time()))
    return ts


@dataclass
class Owners:
    entries: list[Entry]

    @classmethod
    def of(cls, obj: api_pb2.Object | None) -> Owners:
        out: list[Entry] = []
        for e in (o.meta(obj).managed_fields if obj is not None else []):
            tree = json_format.MessageToDict(e.fields_v1)
            ts = Timestamp()
            ts.CopyFrom(e.time)
            out.append(Entry(e.manager, e.operation, e.subresource, e.api_version,
                             fieldpath.from_fields_v1(tree), ts))
        return cls(out)

    def get(self, manager: str, operation: str, subresource: str = "") -> Entry | None:
        return next((e for e in self.entries
                     if e.key == (manager, operation, subresource)), None)

    def entry(self, manager: str, operation: str, subresource: str,
              api_version: str) -> Entry:
        e = self.get(manager, operation, subresource)
        if e is None:
            e = Entry(manager, operation, subresource, api_version)
            self.entries.append(e)
        e.api_version, e.time = api_version, _now()
        return e

    def others(self, manager: str, operation: str, subresource: str = "") -> list[Entry]:
        return [e for e in self.entries if e.key != (manager, operation, subresource)
                and e.subresource == subresource]

    def track_update(self, old: dict[str, Any] | None, new: dict[str, Any], manager: str,
                     desc: Any, api_version: str, subresource: str = "") -> None:
        status = subresource == "status"
        new_doc = fieldpath.owned_part(new, status)
        old_doc = fieldpath.owned_part(old, status) if old is not None else {}
        after = fieldpath.fields_of(new_doc, desc)
        before = fieldpath.fields_of(old_doc, desc) if old is not None else set()
        changed = {p for p in after if p not in before or
                   fieldpath.value_at(new_doc, p, desc) != fieldpath.value_at(old_doc, p, desc)}
        removed = {p for p in before - after
                   if fieldpath.value_at(new_doc, p, desc) is MISSING}
        if not changed and not removed:
            return
        for e in self.entries:
            e.paths -= changed | removed
        if changed:
            self.entry(manager, "Update", subresource, api_version).paths |= changed
        self.entries = [e for e in self.entries if e.paths]

    def write(self, obj: api_pb2.Object) -> None:
        m = o.meta(obj)
        del m.managed_fields[:]
        for e in self.entries:
            if not e.paths:
                continue
            me = meta_pb2.ManagedFieldsEntry(manager=e.manager, operation=e.operation,
                                             api_version=e.api_version,
                                             fields_type="FieldsV1",
                                             subresource=e.subresource)
            me.time.CopyFrom(e.time or _now())
            json_format.ParseDict(fieldpath.to_fields_v1(e.paths), me.fields_v1)
            m.managed_fields.append(me)


def track(old: api_pb2.Object | None, new: api_pb2.Object, manager: str,
          subresource: str = "") -> None:
    """Record in `new`'s managedFields what `manager` changed from `old` (an Update)."""
    from proto import codec

    k = kinds.of(new)
    client_sent = len(o.meta(new).managed_fields) > 0
    owners = Owners.of(new if client_sent else old)
    owners.track_update(codec.encode(old, precise=True) if old is not None else None,
                        _as_stored(codec.encode(new, precise=True)), manager,
                        k.message.DESCRIPTOR, k.api_version, subresource)
    owners.write(new)


def _as_stored(doc: dict[str, Any]) -> dict[str, Any]:
    """A Secret's stringData as the data it becomes (defaults_config.py), as Kubernetes'
    conversion has it before its field manager looks: the update owns data's keys."""
    string_data = doc.pop("stringData", None)
    if string_data:
        doc["data"] = {**doc.get("data", {}), **{
            k: base64.b64encode(v.encode()).decode() for k, v in string_data.items()}}
    return doc
