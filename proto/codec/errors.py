"""Decoding errors: DecodeError with the path of the problem, and the wording of
what was found ("string \"x\"") and of unknown fields (with a "did you mean")."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping

from proto.codec.descriptors import MsgDesc, json_fields


class DecodeError(ValueError):
    """A manifest that does not fit the schema; `path` says where."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


# ---- helpers ------------------------------------------------------------------

def join_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def type_name(v: object) -> str:
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


def describe_value(v: object) -> str:
    t = type_name(v)
    if isinstance(v, bool | int | float):
        return f"{t} {json.dumps(v)}"
    if isinstance(v, str):
        return f"{t} {json.dumps(v)}"
    return t


def unknown_field(path: str, key: str, desc: MsgDesc) -> DecodeError:
    names = list(json_fields(desc))
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
    return DecodeError(join_path(path, key), f'unknown field "{key}"{hint}')
