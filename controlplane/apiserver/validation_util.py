"""Building blocks of validation: an error list with Kubernetes' wording.

Messages follow k8s.io/apimachinery/pkg/util/validation/field:

    Required value
    Invalid value: "12X": quantities must match ...
    Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"
    Duplicate value: "web"
    Not found: "data"
    Forbidden: ...
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from fractions import Fraction

from google.protobuf.message import Message

from controlplane.errors import FieldError
from proto import labels, quantity


def has(msg: Message, field: str) -> bool:
    """HasField by a computed name (the generated stubs only type literal names)."""
    return msg.HasField(field)


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def show(value: object) -> str:
    """A value as Kubernetes prints it in messages: strings quoted, numbers bare."""
    if isinstance(value, Mapping):
        items = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(value.items()))
        return "{" + items + "}"
    if isinstance(value, str | int | float | bool) or value is None:
        return json.dumps(value)
    return str(value)


class Errors(list[FieldError]):
    """A list of FieldErrors with Kubernetes' message helpers."""

    def required(self, path: str, detail: str = "") -> None:
        self.append(FieldError(path, "Required value" + (f": {detail}" if detail else "")))

    def invalid(self, path: str, value: object, detail: str) -> None:
        self.append(FieldError(path, f"Invalid value: {show(value)}: {detail}"))

    def unsupported(self, path: str, value: object, supported: Iterable[str]) -> None:
        sup = ", ".join(f'"{s}"' for s in sorted(supported))
        self.append(FieldError(path, f"Unsupported value: {show(value)}: supported values: {sup}"))

    def duplicate(self, path: str, value: object) -> None:
        self.append(FieldError(path, f"Duplicate value: {show(value)}"))

    def not_found(self, path: str, value: object) -> None:
        self.append(FieldError(path, f"Not found: {show(value)}"))

    def forbidden(self, path: str, detail: str) -> None:
        self.append(FieldError(path, f"Forbidden: {detail}"))

    def too_long(self, path: str, value: object, limit: int) -> None:
        self.append(FieldError(path, f"Too long: may not be longer than {limit}"))

    # ---- common checks ----------------------------------------------------------

    def enum(self, path: str, value: str, supported: Iterable[str], *,
             allow_empty: bool = True) -> None:
        sup = tuple(supported)
        if value == "":
            if not allow_empty:
                self.required(path)
            return
        if value not in sup:
            self.unsupported(path, value, sup)

    def non_negative(self, path: str, value: int) -> None:
        if value < 0:
            self.invalid(path, value, "must be greater than or equal to 0")

    def dns_label(self, path: str, value: str) -> None:
        for msg in labels.dns1123_label_errors(value):
            self.invalid(path, value, msg)

    def dns_subdomain(self, path: str, value: str) -> None:
        for msg in labels.dns1123_subdomain_errors(value):
            self.invalid(path, value, msg)

    def qualified_name(self, path: str, value: str) -> None:
        for msg in labels.qualified_name_errors(value):
            self.invalid(path, value, msg)

    def labels(self, path: str, values: Mapping[str, str]) -> None:
        for k in sorted(values):
            self.qualified_name(path, k)
            for msg in labels.label_value_errors(values[k]):
                self.invalid(join(path, k), values[k], msg)

    def quantity(self, path: str, value: str) -> Fraction | None:
        """A non-negative quantity; None (and an error) if it is not one."""
        try:
            q = quantity.parse(value)
        except quantity.QuantityError as e:
            self.invalid(path, value, e.reason)
            return None
        if q < 0:
            self.invalid(path, value, "must be greater than or equal to 0")
            return None
        return q

    def port(self, path: str, value: int, *, allow_zero: bool = False) -> None:
        if allow_zero and value == 0:
            return
        if not 1 <= value <= 65535:
            self.invalid(path, value, "must be between 1 and 65535, inclusive")

    def absolute_path(self, path: str, value: str) -> None:
        if not value:
            self.required(path)
        elif not value.startswith("/"):
            self.invalid(path, value, "must be an absolute path")

    def relative_path(self, path: str, value: str) -> None:
        if value.startswith("/"):
            self.invalid(path, value, "must be a relative path")
        if ".." in value.split("/"):
            self.invalid(path, value, "must not contain '..'")


def iana_port_name_errors(name: str) -> list[str]:
    """A port name (IANA_SVC_NAME): <= 15 chars, [a-z0-9-], a letter, no '--'."""
    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not all(c.islower() or c.isdigit() or c == "-" for c in name) or not name.isascii():
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if not any(c.isalpha() for c in name):
        errs.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs
