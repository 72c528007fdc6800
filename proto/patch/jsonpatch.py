"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) on JSON documents.

    doc = json_patch(doc, [{"op": "replace", "path": "/spec/replicas", "value": 3}])
    doc = merge_patch(doc, {"metadata": {"labels": {"tier": None}}})

Operations: add, remove, replace, move, copy, test; paths are JSON pointers ("~1" is
"/", "~0" is "~"; "-" appends to an array). A failing operation raises PatchError and
the document passed in is never changed.
"""

from __future__ import annotations

import copy
from typing import Any

from proto.patch.strategic import PatchError


def merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _pointer(path: Any, where: str) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(where, f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _index(container: list[Any], token: str, where: str, *, insert: bool = False) -> int:
    if insert and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(where, f'"{token}" is not an array index')
    i = int(token)
    if i > len(container) or (i == len(container) and not insert):
        raise PatchError(where, f"index {i} is out of range")
    return i


def _parent(doc: Any, tokens: list[str], where: str) -> Any:
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError(where, f'missing path element "{t}"')
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, where)]
        else:
            raise PatchError(where, f'cannot descend into "{t}"')
    return cur


def _get(doc: Any, tokens: list[str], where: str) -> Any:
    if not tokens:
        return doc
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(where, f'missing value at "{last}"')
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, where)]
    raise PatchError(where, "path does not exist")


def _remove(doc: Any, tokens: list[str], where: str) -> Any:
    if not tokens:
        raise PatchError(where, "cannot remove the whole document")
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(where, f'missing value at "{last}"')
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, where))
    raise PatchError(where, "path does not exist")


def _add(doc: Any, tokens: list[str], value: Any, where: str, *, replace: bool = False) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(where, f'missing value at "{last}"')
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, where)] = value
        else:
            parent.insert(_index(parent, last, where, insert=True), value)
    else:
        raise PatchError(where, "path does not exist")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError("", "a JSON patch must be a list of operations")
    out = copy.deepcopy(doc)
    for i, op in enumerate(ops):
        where = f"[{i}]"
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError(where, 'every operation needs an "op"')
        kind = op["op"]
        tokens = _pointer(op.get("path"), where)
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(where, f'"{kind}" needs a "value"')
        if kind == "add":
            out = _add(out, tokens, copy.deepcopy(op["value"]), where)
        elif kind == "remove":
            _remove(out, tokens, where)
        elif kind == "replace":
            out = _add(out, tokens, copy.deepcopy(op["value"]), where, replace=True)
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from"), where)
            value = _remove(out, src, where) if kind == "move" else \
                copy.deepcopy(_get(out, src, where))
            out = _add(out, tokens, value, where)
        elif kind == "test":
            if _get(out, tokens, where) != op["value"]:
                raise PatchError(where, f'test failed at "{op.get("path")}"')
        else:
            raise PatchError(where, f'unknown op "{kind}"')
    return out
