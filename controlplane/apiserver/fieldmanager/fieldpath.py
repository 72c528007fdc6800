"""Field paths and sets of server-side apply, over objects in Kubernetes' JSON form.

A path is a tuple of Kubernetes' FieldsV1 elements:
    ("f:spec", "f:replicas")                                   a field
    ("f:spec", ..., "f:containers", 'k:{"name":"web"}', ".")   an item of a list map
    ("f:metadata", "f:finalizers", 'v:"x"')                    a value of a set
A set of paths is what a manager owns; `to_fields_v1`/`from_fields_v1` convert to and from
the trie stored in metadata.managedFields[].fieldsV1. Lists follow proto/patch/meta.py
(list-type map / set / atomic); maps (labels) own each key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from proto.patch import meta

Path = tuple[str, ...]
MISSING = object()
# what no manager owns: identity and server-set metadata
_SKIP_META = frozenset({"name", "namespace", "uid", "resourceVersion", "generation",
                        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                        "managedFields", "generateName"})


def _json(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


def item_key(item: dict[str, Any], keys: Iterable[str]) -> str:
    return "k:" + _json({k: item[k] for k in keys if k in item})


def owned_part(doc: dict[str, Any], status: bool) -> dict[str, Any]:
    """The part of an object whose fields managers own: spec-like fields and user
    metadata (or only the status, for the status subresource)."""
    if status:
        return {"status": doc["status"]} if isinstance(doc.get("status"), dict) else {}
    out = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "status")}
    m = out.get("metadata")
    if isinstance(m, dict):
        m = {k: v for k, v in m.items() if k not in _SKIP_META}
        if m:
            out["metadata"] = m
        else:
            out.pop("metadata")
    return out


def fields_of(doc: dict[str, Any], desc: Any) -> set[Path]:
    out: set[Path] = set()
    _walk(doc, desc, (), out)
    return out


def _walk(doc: dict[str, Any], desc: Any, prefix: Path, out: set[Path]) -> None:
    for key, value in doc.items():
        if value is None:
            continue
        p = (*prefix, f"f:{key}")
        sub = meta.child(desc, key)
        if isinstance(value, dict):
            if not value or (sub is not None and sub.full_name in meta.ATOMIC_STRUCTS):
                out.add(p)
            elif meta.is_map_field(desc, key):
                for k, v in value.items():
                    if isinstance(v, dict) and v and sub is not None:
                        _walk(v, sub, (*p, f"f:{k}"), out)
                    elif v is not None:
                        out.add((*p, f"f:{k}"))
            else:
                _walk(value, sub, p, out)
        elif isinstance(value, list):
            fm = meta.field_meta(desc, key)
            if not value or fm.list_type == "atomic":
                out.add(p)
            elif fm.list_type == "set":
                out.update((*p, "v:" + _json(v)) for v in value)
            else:
                for item in value:
                    if not isinstance(item, dict):
                        out.add(p)
                        continue
                    ip = (*p, item_key(item, fm.map_keys))
                    out.add((*ip, "."))
                    _walk(item, sub, ip, out)
        else:
            out.add(p)


def _item(items: list[Any], arg: str, keys: tuple[str, ...]) -> Any:
    """The list-map item of key element `k:<arg>`: the one whose key (over the list's map
    keys, when known) is exactly that, as Kubernetes compares keys; without the keys,
    the first item with those values."""
    want = json.loads(arg)
    if keys:
        exact = "k:" + _json(want)
        return next((i for i in items if isinstance(i, dict) and item_key(i, keys) == exact),
                    MISSING)
    return next((i for i in items if isinstance(i, dict) and
                 all(i.get(k) == v for k, v in want.items())), MISSING)


def _steps(doc: Any, path: Path, desc: Any) -> tuple[Any, tuple[str, ...]]:
    """The value at `path` and the map keys of the list it is in (for `remove`)."""
    cur, d, in_map = doc, desc, False
    keys: tuple[str, ...] = ()
    for el in path:
        if el == ".":
            continue
        kind, _, arg = el.partition(":")
        if kind == "f" and isinstance(cur, dict) and arg in cur:
            if not in_map:
                keys, in_map = meta.field_meta(d, arg).map_keys, meta.is_map_field(d, arg)
                d = meta.child(d, arg)
            else:
                in_map = False
            cur = cur[arg]
        elif kind == "k" and isinstance(cur, list):
            cur, keys = _item(cur, arg, keys), ()
        elif kind == "v" and isinstance(cur, list):
            v = json.loads(arg)
            cur = v if v in cur else MISSING
        else:
            return MISSING, ()
        if cur is MISSING:
            return MISSING, ()
    return cur, keys


def value_at(doc: Any, path: Path, desc: Any = None) -> Any:
    """The value at `path` (MISSING when there is none); with the kind's message
    descriptor `desc`, list-map items are found by their exact key."""
    return _steps(doc, path, desc)[0]


def remove(doc: dict[str, Any], paths: Iterable[Path], desc: Any = None) -> None:
    """Delete each path from `doc` (in place): fields, list-map items (by their exact
    key when `desc` is given), set values."""
    for path in sorted(paths, key=len, reverse=True):
        if path[-1] == ".":
            path = path[:-1]
        parent, keys = _steps(doc, path[:-1], desc)
        kind, _, arg = path[-1].partition(":")
        if kind == "f" and isinstance(parent, dict):
            parent.pop(arg, None)
        elif kind == "k" and isinstance(parent, list):
            item = _item(parent, arg, keys)
            parent[:] = [i for i in parent if i is not item]
        elif kind == "v" and isinstance(parent, list):
            v = json.loads(arg)
            parent[:] = [i for i in parent if i != v]


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for el in path:
            node = node.setdefault(el, {})
    return root


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in tree.items():
        p = (*prefix, key)
        if isinstance(sub, dict) and sub:
            out |= from_fields_v1(sub, p)
        else:
            out.add(p)
    return out


def display(path: Path) -> str:
    """Kubernetes' way of printing a path: .spec.containers[name="web"].image"""
    out = ""
    for el in path:
        kind, _, arg = el.partition(":")
        if kind == "f":
            out += "." + arg
        elif kind == "k":
            out += "[" + ",".join(f"{k}={_json(v)}" for k, v in json.loads(arg).items()) + "]"
        elif kind == "v":
            out += f"[={arg}]"
    return out
