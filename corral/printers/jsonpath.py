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

from dataclasses import dataclass
from typing import Any

# Paths and their evaluation live beside this module (the templates):
from corral.printers.jsonpath_eval import evaluate, format_value
from corral.printers.jsonpath_paths import (
    Field,
    Filter,
    Index,
    JSONPathError,
    Path,
    Recursive,
    Segment,
    Slice,
    parse_path,
)

__all__ = ["Field", "Filter", "Index", "JSONPathError", "Path", "Recursive", "Segment",
           "Slice", "Template", "evaluate", "format_value", "parse_path", "render"]


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
