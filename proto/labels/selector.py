"""Label selectors: kubectl's string syntax and API LabelSelectors, parsed into a
Selector that matches a set of labels."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from proto import meta_pb2
from proto.labels.names import label_value_errors, qualified_name_errors


class SelectorError(ValueError):
    """A label or field selector that cannot be parsed or is not supported."""


# Operators, as written in the string syntax.
EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "=", "==", "!="
IN, NOT_IN, EXISTS, DOES_NOT_EXIST = "in", "notin", "exists", "!"


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str            # one of "=", "==", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (EQUALS, DOUBLE_EQUALS, IN):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_EQUALS, NOT_IN):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        return self.key not in labels

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({','.join(self.values)})"
        return f"{self.key}{op}{self.values[0]}"


@dataclass(frozen=True)
class Selector:
    """A conjunction of requirements. No requirements: matches everything,
    unless `nothing` is set (a missing selector, which matches no object)."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.nothing:
            return False
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _requirement(key: str, op: str, values: Iterable[str], part: str) -> Requirement:
    errs = qualified_name_errors(key)
    if errs:
        raise SelectorError(f'invalid label key "{key}" in "{part}": {"; ".join(errs)}')
    vals = tuple(values)
    if op in (IN, NOT_IN):
        vals = tuple(sorted(set(vals)))
        if not vals:
            raise SelectorError(f'"{part}": for \'in\', \'notin\' operators, values set '
                                "can't be empty")
    for v in vals:
        errs = label_value_errors(v)
        if errs:
            raise SelectorError(f'invalid label value "{v}" in "{part}": {"; ".join(errs)}')
    return Requirement(key, op, vals)


_TOKEN_RE = re.compile(r"\s*(==|!=|=|\(|\)|,|!|[^\s=!(),]+)")


def _tokens(s: str) -> tuple[list[str], list[int]]:
    """Tokens and their start offsets in `s`."""
    out: list[str] = []
    starts: list[int] = []
    pos = 0
    s = s.rstrip()
    while pos < len(s):
        m = _TOKEN_RE.match(s, pos)
        if m is None:  # pragma: no cover - the pattern matches any non-space char
            raise SelectorError(f'unable to parse selector "{s}" at {pos}')
        out.append(m.group(1))
        starts.append(m.start(1))
        pos = m.end()
    return out, starts


def parse_selector(s: str) -> Selector:
    """Parse kubectl's label selector syntax; "" selects everything."""
    toks, starts = _tokens(s)
    reqs: list[Requirement] = []
    i = 0

    def _part(_toks: list[str], start: int) -> str:
        """The text of the requirement starting at token `start`, for messages."""
        depth = 0
        end = len(s.rstrip())
        for j in range(start, len(toks)):
            t = toks[j]
            if t == "," and depth == 0 and j > start:
                end = starts[j]
                break
            depth += t == "("
            depth -= t == ")"
        return s[starts[start]:end].strip()

    def peek() -> str:
        return toks[i] if i < len(toks) else ""

    while i < len(toks):
        start = i
        negate = False
        if toks[i] == "!":
            negate = True
            i += 1
        key = peek()
        if not key or key in ("=", "==", "!=", "(", ")", ",", "!"):
            raise SelectorError(f'unable to parse requirement "{_part(toks, start)}": '
                                f"found '{key or 'end of string'}', expected: identifier")
        i += 1
        op = peek()
        if negate:
            if op not in ("", ","):
                raise SelectorError(f'unable to parse requirement "{_part(toks, start)}": '
                                    f"found '{op}', expected: ',' or end of string")
            reqs.append(_requirement(key, DOES_NOT_EXIST, (), _part(toks, start)))
        elif op in ("", ","):
            reqs.append(_requirement(key, EXISTS, (), _part(toks, start)))
        elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
            i += 1
            value = peek()
            if value in ("=", "==", "!=", "(", ")", "!"):
                raise SelectorError(f'unable to parse requirement "{_part(toks, start)}": '
                                    f"found '{value}', expected: value")
            if value and value != ",":
                i += 1
            else:
                value = ""
            reqs.append(_requirement(key, op, (value,), _part(toks, start)))
        elif op in (IN, NOT_IN):
            i += 1
            if peek() != "(":
                raise SelectorError(f'unable to parse requirement "{_part(toks, start)}": '
                                    f"found '{peek() or 'end of string'}', expected: '('")
            i += 1
            values: list[str] = []
            while True:
                t = peek()
                if t == ")":
                    i += 1
                    break
                if t in ("", "(", "=", "==", "!=", "!"):
                    raise SelectorError(f'unable to parse requirement "{_part(toks, start)}": '
                                        f"found '{t or 'end of string'}', expected: ')'")
                if t == ",":
                    if not values or toks[i - 1] in (",", "("):
                        values.append("")
                    i += 1
                    if peek() == ")":
                        values.append("")
                    continue
                values.append(t)
                i += 1
            reqs.append(_requirement(key, op, values, _part(toks, start)))
        else:
            raise SelectorError(f'unable to parse requirement "{_part(toks, start)}": '
                                f"found '{op}', expected: in, notin, =, ==, !=, ',' "
                                "or end of string")
        t = peek()
        if t == ",":
            i += 1
            if i >= len(toks):
                raise SelectorError(f'unable to parse selector "{s}": trailing \',\'')
        elif t:
            raise SelectorError(f'unable to parse requirement "{_part(toks, start)}": '
                                f"found '{t}', expected: ',' or end of string")
    reqs.sort(key=lambda r: r.key)
    return Selector(tuple(reqs))


_LABEL_SELECTOR_OPS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def from_label_selector(sel: meta_pb2.LabelSelector | None) -> Selector:
    """The Selector of an API LabelSelector. None matches nothing, an empty one everything."""
    if sel is None:
        return Selector(nothing=True)
    reqs: list[Requirement] = []
    for k, v in sorted(sel.match_labels.items()):
        reqs.append(_requirement(k, EQUALS, (v,), f"{k}={v}"))
    for e in sel.match_expressions:
        op = _LABEL_SELECTOR_OPS.get(e.operator)
        if op is None:
            raise SelectorError(f'"{e.operator}" is not a valid label selector operator '
                                f"(supported: In, NotIn, Exists, DoesNotExist)")
        if op in (EXISTS, DOES_NOT_EXIST) and e.values:
            raise SelectorError(f"values set must be empty for {e.operator} (key {e.key!r})")
        reqs.append(_requirement(e.key, op, e.values, f"{e.key} {e.operator}"))
    reqs.sort(key=lambda r: r.key)
    return Selector(tuple(reqs))
