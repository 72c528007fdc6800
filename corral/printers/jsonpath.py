"""A small JSONPath subset with kubectl's template syntax.

    {.items[*].metadata.name}
    {.status.podIP}
    {range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}
    {.status.conditions[?(@.type=="Ready")].status}
    {..image}

Supported in paths: `.field`, `['field']`, `[n]` (negative too), `[a:b]`,
`[*]`, `.*`, `..field` (recursive descent), `[?(@.path OP literal)]` and
`[?(@.path)]`; `$` is the root, `@` or a leading `.` the current node.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class JSONPathError(ValueError):
    """A template that does not parse."""


# -- path segments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str   # "*" for all values


@dataclass(frozen=True)
class Recursive:
    name: str


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class Filter:
    path: tuple[Any, ...]
    op: str           # "" for existence
    value: Any


Segment = Field | Recursive | Index | Slice | Filter


@dataclass(frozen=True)
class Path:
    root: bool                   # starts at $ rather than the current node
    segments: tuple[Segment, ...]


_FILTER_RE = re.compile(r"^\?\((.*)\)$", re.S)
_OPS = ("==", "!=", "<=", ">=", "<", ">", "=~")


def parse_path(text: str) -> Path:
    s = text.strip()
    root = False
    i = 0
    if s.startswith("$"):
        root, i = True, 1
    elif s.startswith("@"):
        i = 1
    segs: list[Segment] = []
    n = len(s)
    if i == n:
        return Path(root, ())
    if s[i] not in ".[":
        s = "." + s[i:]
        i, n = 0, len(s)
    while i < n:
        c = s[i]
        if s.startswith("..", i):
            m = re.match(r"[A-Za-z0-9_\-/$*]+", s[i + 2:])
            if not m:
                raise JSONPathError(f"expected a field name after '..' in {text!r}")
            segs.append(Recursive(m.group(0)))
            i += 2 + m.end()
        elif c == ".":
            m = re.match(r"[A-Za-z0-9_\-/$*]*", s[i + 1:])
            name = m.group(0) if m else ""
            if name:
                segs.append(Field(name))
            i += 1 + len(name)
        elif c == "[":
            end = _matching_bracket(s, i, text)
            segs.append(_parse_bracket(s[i + 1:end].strip(), text))
            i = end + 1
        else:
            raise JSONPathError(f"unexpected {c!r} at position {i} in {text!r}")
    return Path(root, tuple(segs))


def _matching_bracket(s: str, start: int, text: str) -> int:
    depth = 0
    quote = ""
    for j in range(start, len(s)):
        ch = s[j]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JSONPathError(f"unclosed '[' in {text!r}")


def _parse_bracket(inner: str, text: str) -> Segment:
    if inner == "*":
        return Field("*")
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return Field(inner[1:-1])
    m = _FILTER_RE.match(inner)
    if m:
        return _parse_filter(m.group(1).strip(), text)
    if ":" in inner:
        parts = inner.split(":")
        if len(parts) > 3:
            raise JSONPathError(f"bad slice [{inner}] in {text!r}")
        try:
            nums = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
        except ValueError:
            raise JSONPathError(f"bad slice [{inner}] in {text!r}") from None
        return Slice(nums[0], nums[1], nums[2])
    try:
        return Index(int(inner))
    except ValueError:
        raise JSONPathError(f"bad subscript [{inner}] in {text!r}") from None


def _parse_filter(expr: str, text: str) -> Filter:
    for op in _OPS:
        pos = _find_op(expr, op)
        if pos >= 0:
            left, right = expr[:pos].strip(), expr[pos + len(op):].strip()
            return Filter(parse_path(left).segments, op, _literal(right, text))
    return Filter(parse_path(expr).segments, "", None)


def _find_op(expr: str, op: str) -> int:
    quote = ""
    for j in range(len(expr)):
        ch = expr[j]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif expr.startswith(op, j):
            return j
    return -1


def _literal(s: str, text: str) -> Any:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    if s in ("true", "false"):
        return s == "true"
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        raise JSONPathError(f"bad literal {s!r} in filter of {text!r}") from None


# -- evaluation -----------------------------------------------------------------------------------


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


# -- templates ------------------------------------------------------------------------------------


@dataclass
class _Text:
    text: str


@dataclass
class _Expr:
    paths: list[Path]


@dataclass
class _Range:
    path: Path
    body: list[_Node]


_Node = _Text | _Expr | _Range

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


def _unquote(s: str) -> str:
    out: list[str] = []
    i = 0
    body = s[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _split_template(template: str) -> list[tuple[bool, str]]:
    """[(is_action, text)] for the text outside and inside {...}."""
    parts: list[tuple[bool, str]] = []
    i = 0
    text: list[str] = []
    n = len(template)
    while i < n:
        ch = template[i]
        if ch == "{":
            if text:
                parts.append((False, "".join(text)))
                text = []
            depth, quote, j = 0, "", i
            while j < n:
                c = template[j]
                if quote:
                    if c == "\\":
                        j += 2
                        continue
                    if c == quote:
                        quote = ""
                elif c in "'\"":
                    quote = c
                elif c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= n:
                raise JSONPathError(f"unclosed action in template {template!r}")
            parts.append((True, template[i + 1:j].strip()))
            i = j + 1
        else:
            text.append(ch)
            i += 1
    if text:
        parts.append((False, "".join(text)))
    return parts


def _split_commas(expr: str) -> list[str]:
    out, cur, quote, depth = [], [], "", 0
    for ch in expr:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return [p for p in out if p]


class Template:
    """A parsed kubectl JSONPath template, e.g. '{.items[*].metadata.name}'."""

    def __init__(self, template: str) -> None:
        self.source = template
        stack: list[list[_Node]] = [[]]
        ranges: list[_Range] = []
        for is_action, text in _split_template(template):
            if not is_action:
                stack[-1].append(_Text(text))
            elif text.startswith("range ") or text.startswith("range\t"):
                r = _Range(parse_path(text[6:].strip()), [])
                stack[-1].append(r)
                ranges.append(r)
                stack.append(r.body)
            elif text == "end":
                if not ranges:
                    raise JSONPathError(f"'end' without 'range' in {template!r}")
                ranges.pop()
                stack.pop()
            elif len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                stack[-1].append(_Text(_unquote(text)))
            elif not text:
                raise JSONPathError(f"empty action {{}} in {template!r}")
            else:
                stack[-1].append(_Expr([parse_path(p) for p in _split_commas(text)]))
        if ranges:
            raise JSONPathError(f"'range' without 'end' in {template!r}")
        self._nodes = stack[0]

    def render(self, data: Any) -> str:
        out: list[str] = []
        self._render(self._nodes, data, data, out)
        return "".join(out)

    def _render(self, nodes: list[_Node], root: Any, current: Any, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                out.append(node.text)
            elif isinstance(node, _Expr):
                values = [v for p in node.paths for v in evaluate(p, root, current)]
                out.append(" ".join(format_value(v) for v in values))
            else:
                values = evaluate(node.path, root, current)
                if len(values) == 1 and isinstance(values[0], list) and not node.path.segments:
                    values = values[0]
                for v in values:
                    self._render(node.body, root, v, out)


def render(template: str, data: Any) -> str:
    return Template(template).render(data)
