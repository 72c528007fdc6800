"""Strategic merge patch, applied as Kubernetes' apimachinery `strategicpatch` does.

    merged = apply(original, patch, core_pb2.Pod.DESCRIPTOR)   # dicts in Kubernetes' JSON form

Maps merge key by key (null deletes a key); a list merges by its patch strategy
(proto/patch/meta.py): objects by their merge key, scalars as a set, anything else is
replaced. The directives kubectl sends:

    {"$patch": "replace"}                 in a map: the map becomes the patch's;
                                          as a list element: the list becomes the patch's
    {"$patch": "delete", "name": "x"}     as a list element: remove the item with that key;
                                          in a map: the map becomes {}
    "$retainKeys": ["type", "rollingUpdate"]   clear the original's other keys
    "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]   order of the result
    "$deleteFromPrimitiveList/finalizers": ["x"]   remove scalars from a set

A patch that does not fit (a list item without its merge key, an unknown directive)
raises PatchError; the original is never changed.
"""

from __future__ import annotations

import copy
from typing import Any

import proto.patch.meta as meta

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder/"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


class PatchError(ValueError):
    """A patch that cannot be applied; `path` says where."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


def apply(original: dict[str, Any], patch: dict[str, Any], desc: Any = None) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise PatchError("", "a strategic merge patch must be a JSON object")
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), desc, "")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], desc: Any,
               path: str) -> dict[str, Any]:
    if DIRECTIVE in patch:
        d = patch.pop(DIRECTIVE)
        if d == "replace":
            return _strip(patch, desc, path)
        if d == "delete":
            return {}
        if d != "merge":
            raise PatchError(path, f'unknown patch type "{d}" in $patch')
    out: dict[str, Any] = original if isinstance(original, dict) else {}
    if RETAIN_KEYS in patch:
        keep = patch.pop(RETAIN_KEYS)
        if not isinstance(keep, list):
            raise PatchError(_join(path, RETAIN_KEYS), "must be a list of keys")
        stray = [k for k, v in patch.items() if v is not None and not k.startswith("$")
                 and k not in keep]
        if stray:
            raise PatchError(_join(path, RETAIN_KEYS),
                             f"the patch sets {stray} but $retainKeys does not keep them")
        for k in list(out):
            if k not in keep:
                del out[k]
    for k in [k for k in patch if k.startswith(DELETE_PRIMITIVE)]:
        field = k[len(DELETE_PRIMITIVE):]
        values = patch.pop(k)
        if not isinstance(values, list):
            raise PatchError(_join(path, k), "must be a list")
        if isinstance(out.get(field), list):
            out[field] = [v for v in out[field] if v not in values]
    for k in [k for k in patch if k.startswith(SET_ORDER)]:
        field = k[len(SET_ORDER):]
        order = patch.pop(k)
        if not isinstance(order, list):
            raise PatchError(_join(path, k), "must be a list")
        fm = meta.field_meta(desc, field)
        fpath = _join(path, field)
        if field in patch:
            value = patch.pop(field)
            if value is None:
                out.pop(field, None)
                continue
            merged = _merge_value(out.get(field), value, desc, field, fpath)
        else:
            merged = out.get(field)
        if isinstance(merged, list):
            out[field] = _order(merged, order, out.get(field) or [], fm.merge_key)
    for k, v in patch.items():
        if k.startswith("$"):
            raise PatchError(_join(path, k), f'unknown directive "{k}"')
        fpath = _join(path, k)
        if v is None:
            out.pop(k, None)
            continue
        out[k] = _merge_value(out.get(k), v, desc, k, fpath)
    return out


def _merge_value(orig: Any, value: Any, desc: Any, key: str, path: str) -> Any:
    sub = meta.child(desc, key)
    if isinstance(value, dict):
        return _merge_map(orig if isinstance(orig, dict) else None, value, sub, path)
    if isinstance(value, list):
        fm = meta.field_meta(desc, key)
        if not fm.merges:
            return _strip(value, sub, path)
        return _merge_list(orig if isinstance(orig, list) else [], value, sub, fm, path)
    return value


def _strip(value: Any, desc: Any, path: str) -> Any:
    """A patch value taken as is, without directives or nulls (nothing to merge with)."""
    if isinstance(value, dict):
        return _merge_map(None, value, desc, path)
    if isinstance(value, list):
        return [_strip(v, desc, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _merge_list(orig: list[Any], patch: list[Any], desc: Any, fm: meta.FieldMeta,
                path: str) -> list[Any]:
    if not patch and not orig:
        return []
    if not any(isinstance(v, dict) for v in [*orig, *patch]):
        merged = list(orig)
        for v in patch:
            if v not in merged:
                merged.append(v)
        return _order(merged, patch, orig, "")
    key = fm.merge_key
    if not key:
        raise PatchError(path, "cannot merge lists of objects without a merge key")
    items: list[Any] = []
    replace = False
    for i, v in enumerate(patch):
        ipath = f"{path}[{i}]"
        if not isinstance(v, dict):
            raise PatchError(ipath, "expected an object in a list merged by key")
        d = v.get(DIRECTIVE)
        if d is None:
            items.append(v)
        elif d == "delete":
            if key not in v:
                raise PatchError(ipath, f'map: {v} does not contain declared merge key: {key}')
            orig = [o for o in orig if not (isinstance(o, dict) and o.get(key) == v[key])]
        elif d == "replace":
            replace = True
        else:
            raise PatchError(ipath, f'unknown patch type "{d}" in $patch')
    if replace:
        return [_strip(v, desc, path) for v in items]
    merged = list(orig)
    for i, v in enumerate(items):
        if key not in v:
            raise PatchError(f"{path}[{i}]", f"map: {v} does not contain declared merge key: "
                                             f"{key}")
        at = next((j for j, o in enumerate(merged)
                   if isinstance(o, dict) and o.get(key) == v[key]), None)
        if at is None:
            merged.append(_merge_map(None, v, desc, f"{path}[{i}]"))
        else:
            merged[at] = _merge_map(merged[at], v, desc, f"{path}[{i}]")
    return _order(merged, items, orig, key)


def _ident(v: Any, key: str) -> Any:
    return v.get(key) if key and isinstance(v, dict) else v


def _order(merged: list[Any], order: list[Any], server: list[Any], key: str) -> list[Any]:
    """Kubernetes' element order: the items named in `order` (the patch list or
    $setElementOrder) in that order, the server's other items where they were."""
    wanted = [_ident(v, key) for v in order]
    live = [_ident(v, key) for v in server]
    named = [m for m in merged if _ident(m, key) in wanted]
    named.sort(key=lambda m: wanted.index(_ident(m, key)))
    others = [m for m in merged if _ident(m, key) not in wanted]
    others.sort(key=lambda m: live.index(_ident(m, key)) if _ident(m, key) in live
                else len(live))
    out: list[Any] = []
    i = j = 0
    while i < len(others) or j < len(named):
        if i >= len(others):
            out.append(named[j])
            j += 1
        elif j >= len(named):
            out.append(others[i])
            i += 1
        else:
            a, b = _ident(others[i], key), _ident(named[j], key)
            if a in live and b in live and live.index(a) < live.index(b):
                out.append(others[i])
                i += 1
            else:
                out.append(named[j])
                j += 1
    return out
