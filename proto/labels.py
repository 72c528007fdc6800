"""Label and field selectors, and the name/label syntax checks Kubernetes uses.

    parse_selector("app=web,tier in (a,b),!legacy") -> Selector
    from_label_selector(meta_pb2.LabelSelector)     -> Selector
    Selector.matches({"app": "web"})                -> bool
    parse_field_selector("spec.nodeName=node-1")    -> FieldSelector
    FieldSelector.matches(api_pb2.Object)           -> bool

Syntax errors raise SelectorError (a ValueError) naming the offending part.
The `*_errors` helpers return Kubernetes' messages (empty list: valid).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from proto import api_pb2, meta_pb2

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "Requirement",
    "Selector",
    "SelectorError",
    "dns1123_label_errors",
    "dns1123_subdomain_errors",
    "from_label_selector",
    "label_value_errors",
    "parse_field_selector",
    "parse_selector",
    "qualified_name_errors",
]


class SelectorError(ValueError):
    """A label or field selector that cannot be parsed or is not supported."""


# ---- name syntax (k8s.io/apimachinery/pkg/util/validation) -----------------

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = rf"({_QUALIFIED_NAME})?"
_DNS1123_LABEL_RE = re.compile(f"^{_DNS1123_LABEL}$")
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN}$")
_QUALIFIED_NAME_RE = re.compile(f"^{_QUALIFIED_NAME}$")
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE}$")


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def dns1123_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63))
    if not _DNS1123_LABEL_RE.match(value):
        errs.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
            "or '-', and must start and end with an alphanumeric character (e.g. 'my-name', "
            f"or '123-abc', regex used for validation is '{_DNS1123_LABEL}')"
        )
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(_max_len(253))
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character "
            f"(e.g. 'example.com', regex used for validation is '{_DNS1123_SUBDOMAIN}')"
        )
    return errs


def qualified_name_errors(value: str) -> list[str]:
    """A label/annotation key: an optional DNS subdomain prefix and '/', then a name."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain_errors(prefix))
    else:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', "
            f"or '123-abc', regex used for validation is '{_QUALIFIED_NAME}') with an optional "
            "DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len(63))
    if name and not _QUALIFIED_NAME_RE.match(name):
        errs.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or "
            f"'123-abc', regex used for validation is '{_QUALIFIED_NAME}')"
        )
    return errs


def label_value_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
            f"'MyValue', or 'my_value', or '12345', regex used for validation is '{_LABEL_VALUE}')"
        )
    return errs


# ---- label selectors --------------------------------------------------------

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


# ---- field selectors --------------------------------------------------------

_Getter = Callable[[api_pb2.Object], str]


def _meta(attr: str) -> _Getter:
    return lambda o: str(getattr(getattr(o, o.WhichOneof("kind") or "pod").metadata, attr))


def _pod(get: Callable[[object], object]) -> _Getter:
    return lambda o: str(get(o.pod)) if o.WhichOneof("kind") == "pod" else ""


def _event(attr: str) -> _Getter:
    return lambda o: (str(getattr(o.event.involved_object, attr))
                      if o.WhichOneof("kind") == "event" else "")


def _bool(x: object) -> str:
    return "true" if x else "false"


# field -> (kinds it applies to, None: all; getter)
FIELDS: dict[str, tuple[frozenset[str] | None, _Getter]] = {
    "metadata.name": (None, _meta("name")),
    "metadata.namespace": (None, _meta("namespace")),
    "spec.nodeName": (frozenset({"pods"}), _pod(lambda p: p.spec.node_name)),  # type: ignore[attr-defined]
    "spec.restartPolicy": (frozenset({"pods"}), _pod(lambda p: p.spec.restart_policy)),  # type: ignore[attr-defined]
    "spec.schedulerName": (frozenset({"pods"}), _pod(lambda p: p.spec.scheduler_name)),  # type: ignore[attr-defined]
    "status.podIP": (frozenset({"pods"}), _pod(lambda p: p.status.pod_ip)),  # type: ignore[attr-defined]
    "spec.serviceAccountName": (frozenset({"pods"}),
                                _pod(lambda p: p.spec.service_account_name)),  # type: ignore[attr-defined]
    "spec.hostNetwork": (frozenset({"pods"}), _pod(lambda p: _bool(p.spec.host_network))),  # type: ignore[attr-defined]
    "status.nominatedNodeName": (frozenset({"pods"}),
                                 _pod(lambda p: p.status.nominated_node_name)),  # type: ignore[attr-defined]
    "status.phase": (frozenset({"pods", "namespaces"}),
                     lambda o: (o.pod.status.phase if o.WhichOneof("kind") == "pod" else
                                o.namespace.status.phase
                                if o.WhichOneof("kind") == "namespace" else "")),
    "spec.unschedulable": (frozenset({"nodes"}),
                           lambda o: _bool(o.node.spec.unschedulable)
                           if o.WhichOneof("kind") == "node" else ""),
    "involvedObject.kind": (frozenset({"events"}), _event("kind")),
    "involvedObject.name": (frozenset({"events"}), _event("name")),
    "involvedObject.namespace": (frozenset({"events"}), _event("namespace")),
    "involvedObject.uid": (frozenset({"events"}), _event("uid")),
    "involvedObject.apiVersion": (frozenset({"events"}), _event("api_version")),
    "involvedObject.fieldPath": (frozenset({"events"}), _event("field_path")),
    "reason": (frozenset({"events"}),
               lambda o: o.event.reason if o.WhichOneof("kind") == "event" else ""),
    "type": (frozenset({"events"}),
             lambda o: o.event.type if o.WhichOneof("kind") == "event" else ""),
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str   # "=", "==" or "!="
    value: str

    def matches(self, obj: api_pb2.Object) -> bool:
        actual = FIELDS[self.field][1](obj)
        return (actual != self.value) if self.operator == NOT_EQUALS else actual == self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{_escape(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: api_pb2.Object) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def exact(self, field_name: str) -> str | None:
        """The value `field_name` must equal, if the selector pins it (for indexing)."""
        for r in self.requirements:
            if r.field == field_name and r.operator in (EQUALS, DOUBLE_EQUALS):
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace("!", "\\!")


def _split_unescaped(s: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(v: str, part: str) -> str:
    out, i = [], 0
    while i < len(v):
        c = v[i]
        if c == "\\":
            if i + 1 >= len(v) or v[i + 1] not in "\\,=!":
                raise SelectorError(f'invalid field selector "{part}": invalid escape sequence')
            out.append(v[i + 1])
            i += 2
            continue
        if c in ",=!":
            raise SelectorError(f'invalid field selector "{part}": unescaped "{c}" in value')
        out.append(c)
        i += 1
    return "".join(out)


def parse_field_selector(s: str, resource: str = "") -> FieldSelector:
    """Parse `field=value,field!=value`. With `resource` ("pods"), only that
    resource's fields are allowed; without, any supported field."""
    reqs: list[FieldRequirement] = []
    if not s.strip():
        return FieldSelector()
    for part in _split_unescaped(s, ","):
        part_s = part.strip()
        if not part_s:
            raise SelectorError(f'invalid field selector "{s}": empty requirement')
        m = re.match(r"^([^=!\\]+?)\s*(==|!=|=)\s*(.*)$", part_s)
        if m is None:
            raise SelectorError(f'invalid field selector "{part_s}": expected field=value, '
                                "field==value or field!=value")
        name, op, raw = m.group(1).strip(), m.group(2), m.group(3)
        spec = FIELDS.get(name)
        if spec is None or (resource and spec[0] is not None and resource not in spec[0]):
            supported = sorted(f for f, (kinds, _) in FIELDS.items()
                               if not resource or kinds is None or resource in kinds)
            what = f' for "{resource}"' if resource else ""
            raise SelectorError(f'field label not supported{what}: "{name}" '
                                f"(supported: {', '.join(supported)})")
        reqs.append(FieldRequirement(name, op, _unescape(raw, part_s)))
    return FieldSelector(tuple(reqs))
