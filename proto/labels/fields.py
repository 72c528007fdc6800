"""Field selectors (`spec.nodeName=node-1`): the supported fields per resource, and
parsing them into a FieldSelector that matches an API object."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from proto import api_pb2
from proto.labels.selector import DOUBLE_EQUALS, EQUALS, NOT_EQUALS, SelectorError

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
    "type": (frozenset({"events", "secrets"}),
             lambda o: o.event.type if o.WhichOneof("kind") == "event" else
             o.secret.type if o.WhichOneof("kind") == "secret" else ""),
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


def selected_name(field_selector: str) -> str:
    """NAME when the selector is exactly `metadata.name=NAME` (or `==`); "" otherwise."""
    terms = [t.strip() for t in field_selector.split(",") if t.strip()]
    if len(terms) == 1:
        for op in ("==", "="):
            key, sep, value = terms[0].partition(op)
            if sep and not key.endswith("!") and key.strip() == "metadata.name":
                return value.strip()
    return ""
