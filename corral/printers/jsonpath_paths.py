"""JSONPath paths: their segments (`.field`, `[n]`, `[a:b]`, `[*]`, `..field`,
`[?(@.path OP literal)]`) and parsing one into a Path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class JSONPathError(ValueError):
    """A template that does not parse."""


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

