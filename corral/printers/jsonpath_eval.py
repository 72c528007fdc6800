"""Evaluating a JSONPath Path against a document, and the text of a found value."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from corral.printers.jsonpath_paths import Field, Filter, Index, Path, Recursive, Segment, Slice


def evaluate(path: Path, root: Any, current: Any | None = None) -> list[Any]:
    nodes = [root if path.root or current is None else current]
    for seg in path.segments:
        nodes = [out for node in nodes for out in _step(seg, node)]
    return nodes


def _step(seg: Segment, node: Any) -> Iterator[Any]:
    if isinstance(seg, Field):
        if seg.name == "*":
            if isinstance(node, dict):
                yield from node.values()
            elif isinstance(node, list):
                yield from node
        elif isinstance(node, dict) and seg.name in node:
            yield node[seg.name]
    elif isinstance(seg, Recursive):
        yield from _descend(seg.name, node)
    elif isinstance(seg, Index):
        if isinstance(node, list) and -len(node) <= seg.index < len(node):
            yield node[seg.index]
    elif isinstance(seg, Slice):
        if isinstance(node, list):
            yield from node[seg.start:seg.stop:seg.step]
    elif isinstance(seg, Filter):
        items = node if isinstance(node, list) else [node]
        for item in items:
            if _matches(seg, item):
                yield item


def _descend(name: str, node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if name in ("*", key):
                yield value
            yield from _descend(name, value)
    elif isinstance(node, list):
        for value in node:
            yield from _descend(name, value)


def _matches(f: Filter, item: Any) -> bool:
    found = evaluate(Path(False, f.path), item, item)
    if not f.op:
        return bool(found)
    if not found:
        return False
    value = found[0]
    want = f.value
    try:
        if f.op == "==":
            return bool(value == want or str(value) == str(want))
        if f.op == "!=":
            return bool(value != want and str(value) != str(want))
        if f.op == "=~":
            return re.search(str(want), str(value)) is not None
        a: Any = float(value) if not isinstance(want, str) else str(value)
        b: Any = float(want) if not isinstance(want, str) else want
        return bool({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[f.op])
    except (TypeError, ValueError):
        return False


def format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)

