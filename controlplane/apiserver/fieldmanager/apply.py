"""Server-side apply: a manager's configuration merged into the live object by field
ownership (metadata.managedFields), as Kubernetes does it:

- the configuration is merged in (maps by key, list maps by their keys, sets as sets,
  anything else replaced); the object is created if it does not exist;
- a field it sets to another value than the live one, that another manager owns, is a
  conflict: 409 with one cause per field, unless `force`, which takes the field over;
- a field the manager applied last time, leaves out now and nobody else owns, is removed;
- the manager's Apply entry becomes exactly the fields of the configuration.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.fieldmanager import fieldpath
from controlplane.apiserver.fieldmanager.entries import Owners
from controlplane.apiserver.registry import Registry
from proto import api_pb2, codec, kinds
from proto.patch import meta

Authorize = Callable[[api_pb2.Object, api_pb2.Object | None], None]
RETRIES = 10


class ApplyConflict(errors.Conflict):
    """Fields another manager owns would change: `conflicts` = [(manager, api version,
    field path as Kubernetes prints it)]."""

    def __init__(self, conflicts: list[tuple[str, str, str]]) -> None:
        self.conflicts = conflicts
        n = len(conflicts)
        by: dict[tuple[str, str], list[str]] = {}
        for manager, av, path in conflicts:
            by.setdefault((manager, av), []).append(path)
        parts = []
        for (manager, av), fields in by.items():
            if len(fields) == 1:
                parts.append(f'conflict with "{manager}" using {av}: {fields[0]}')
            else:
                parts.append(f'conflicts with "{manager}" using {av}:\n' +
                             "\n".join(f"- {f}" for f in fields))
        super().__init__(f"Apply failed with {n} conflict{'s' if n != 1 else ''}: " +
                         "\n".join(parts))


def merge(live: Any, applied: Any, desc: Any) -> Any:
    if not isinstance(applied, dict) or not isinstance(live, dict):
        return copy.deepcopy(applied)
    out = copy.deepcopy(live)
    for key, value in applied.items():
        if value is None:
            continue
        sub = meta.child(desc, key)
        cur = out.get(key)
        if isinstance(value, dict):
            atomic = sub is not None and sub.full_name in meta.ATOMIC_STRUCTS
            out[key] = copy.deepcopy(value) if atomic else merge(cur or {}, value, sub)
        elif isinstance(value, list) and isinstance(cur, list):
            out[key] = _merge_list(cur, value, sub, meta.field_meta(desc, key))
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge_list(cur: list[Any], value: list[Any], sub: Any, fm: meta.FieldMeta) -> list[Any]:
    if fm.list_type == "set":
        return [*cur, *(v for v in value if v not in cur)]
    if fm.list_type != "map":
        return copy.deepcopy(value)
    out = copy.deepcopy(cur)
    for item in value:
        key = fieldpath.item_key(item, fm.map_keys)
        at = next((i for i, c in enumerate(out) if isinstance(c, dict) and
                   fieldpath.item_key(c, fm.map_keys) == key), None)
        if at is None:
            out.append(copy.deepcopy(item))
        else:
            out[at] = merge(out[at], item, sub)
    return out


def _with_keys(config: dict[str, Any], desc: Any) -> dict[str, Any]:
    """The configuration with the key fields its list-map items leave to defaults
    (ports' protocol) filled in, as Kubernetes defaults an apply configuration's keys."""
    try:
        obj = codec.decode(config)
    except codec.DecodeError as e:
        raise errors.BadRequest(f"the apply configuration cannot be decoded: strict decoding "
                                f"error: {e}") from None
    o.apply_defaults(obj)
    out = copy.deepcopy(config)
    _fill(out, codec.encode(obj, precise=True), desc)
    return out


def _fill(config: dict[str, Any], defaulted: Any, desc: Any) -> None:
    if not isinstance(defaulted, dict):
        return
    for key, value in config.items():
        sub, there = meta.child(desc, key), defaulted.get(key)
        if isinstance(value, dict) and sub is not None:
            _fill(value, there, sub)
        elif isinstance(value, list) and isinstance(there, list) and len(there) == len(value):
            keys = meta.field_meta(desc, key).map_keys
            for item, full in zip(value, there, strict=True):
                if isinstance(item, dict) and isinstance(full, dict):
                    for mk in keys:
                        if mk not in item and mk in full:
                            item[mk] = full[mk]
                    _fill(item, full, sub)


def _config(body: Any, k: kinds.Kind, namespace: str, name: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadRequest("an apply configuration must be an object")
    if (body.get("apiVersion"), body.get("kind")) != (k.api_version, k.kind):
        raise errors.BadRequest(f"the apply configuration must be apiVersion {k.api_version}, "
                                f"kind {k.kind}")
    m = body.get("metadata") or {}
    if m.get("name") not in (None, name) or m.get("namespace") not in (None, "", namespace):
        raise errors.BadRequest("the name or namespace of the apply configuration does not "
                                "match the request")
    if m.get("managedFields"):
        raise errors.BadRequest("metadata.managedFields must be nil in an apply configuration")
    return body


def _unchanged(new: api_pb2.Object, cur: api_pb2.Object) -> bool:
    """The same object and the same owners (the entries' times aside)."""
    def key(obj: api_pb2.Object) -> tuple[Any, Any]:
        owners = {e.key: e.paths for e in Owners.of(obj).entries}
        bare = o.body(obj)
        del o.meta(bare).managed_fields[:]
        return codec.encode(bare, precise=True, full=True), owners

    return key(new) == key(cur)


async def apply(registry: Registry, resource: str, namespace: str, name: str, body: Any,
                manager: str, *, force: bool = False, dry_run: bool = False,
                authorize: Authorize | None = None) -> api_pb2.Object:
    if not manager:
        raise errors.BadRequest("fieldManager is required for apply requests")
    k = kinds.lookup(resource)
    desc = k.message.DESCRIPTOR
    config = _with_keys(_config(body, k, namespace, name), desc)
    mine = fieldpath.fields_of(fieldpath.owned_part(config, False), desc)
    for _ in range(RETRIES):
        try:
            cur: api_pb2.Object | None = await registry.get(resource, namespace, name)
        except errors.NotFound:
            cur = None
        live = codec.encode(cur, precise=True) if cur is not None else \
            {"apiVersion": k.api_version, "kind": k.kind,
             "metadata": {"name": name, **({"namespace": namespace} if namespace else {})}}
        owners = Owners.of(cur)
        others = owners.others(manager, "Apply")
        conflicts = [(e, p) for e in others for p in mine & e.paths if p[-1] != "." and
                     fieldpath.value_at(live, p, desc) != fieldpath.value_at(config, p, desc)]
        if conflicts and not force:
            raise ApplyConflict([(e.manager, e.api_version, fieldpath.display(p))
                                 for e, p in conflicts])
        for e, p in conflicts:
            e.paths.discard(p)
        prev = owners.get(manager, "Apply")
        owned_by_others = set().union(*(e.paths for e in others)) if others else set()
        gone = (prev.paths if prev else set()) - mine - owned_by_others
        merged = merge(live, config, desc)
        fieldpath.remove(merged, gone, desc)
        owners.entry(manager, "Apply", "", k.api_version).paths = set(mine)
        owners.entries = [e for e in owners.entries if e.paths]
        try:
            new = codec.decode(merged)
        except codec.DecodeError as e:
            raise errors.BadRequest(f"{k.kind} in version \"{k.api_version.rpartition('/')[2]}\""
                                    f" cannot be handled as a {k.kind}: strict decoding error: "
                                    f"{e}") from None
        owners.write(new)
        if cur is not None and _unchanged(new, cur):
            return cur
        if authorize is not None:
            authorize(new, cur)
        try:
            if cur is None:
                return await registry.create(new, dry_run=dry_run)
            o.meta(new).resource_version = o.meta(cur).resource_version
            return await registry.update(new, dry_run=dry_run)
        except (errors.Conflict, errors.AlreadyExists):
            continue
    raise errors.Conflict(f"{resource} {name}: too many concurrent writers; try again")
