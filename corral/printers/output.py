"""`-o` output formats: table (default), wide, yaml, json, name, jsonpath=, custom-columns=."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from corral.printers import jsonpath, table
from proto import api_pb2, columns, kinds

FORMATS = ("wide", "yaml", "json", "name", "jsonpath=", "jsonpath-as-json=",
           "custom-columns=")


class OutputError(ValueError):
    """An -o value that is not a known format, or a bad template."""


def encode(obj: api_pb2.Object) -> dict[str, Any]:
    """The Kubernetes JSON form of an object (proto.codec)."""
    from proto import codec

    doc: dict[str, Any] = codec.encode(obj)
    return doc


def as_list(objs: Sequence[api_pb2.Object]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": [encode(o) for o in objs], "kind": "List",
            "metadata": {"resourceVersion": ""}}


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    """Block style for multi-line strings; "double quotes" (like kubectl) when quoting is
    needed, e.g. for a string that would read as a number: resourceVersion: "5"."""
    tag = "tag:yaml.org,2002:str"
    if "\n" in data:
        return dumper.represent_scalar(tag, data, style="|")
    if dumper.resolve(yaml.ScalarNode, data, (True, False)) != tag or _needs_quotes(data):
        return dumper.represent_scalar(tag, data, style='"')
    return dumper.represent_scalar(tag, data)


def _needs_quotes(data: str) -> bool:
    if not data or data != data.strip():
        return True
    if not any(c in data for c in ":#'\"{}[],&*!|>%@`-?"):
        return False
    try:
        return yaml.safe_load(f"k: {data}") != {"k": data}
    except yaml.YAMLError:
        return True


_Dumper.add_representer(str, _str_presenter)


def to_yaml(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1 << 16)


def to_json(doc: Any) -> str:
    return json.dumps(doc, indent=4, ensure_ascii=False) + "\n"


def object_name(obj: api_pb2.Object) -> str:
    """'pod/web', 'deployment.apps/web' (-o name)."""
    k = kinds.of(obj)
    meta = kinds.unwrap(obj).metadata  # type: ignore[attr-defined]
    return f"{columns.qualified_kind(k)}/{meta.name}"


@dataclass
class Printer:
    """Renders objects for `get`; one instance per command so watch rows stay aligned."""

    format: str = ""                 # "", wide, yaml, json, name, jsonpath, custom-columns
    template: str = ""
    namespace_column: bool = False
    show_labels: bool = False
    no_headers: bool = False
    colour: bool = False
    label_columns: tuple[str, ...] = ()
    _compiled: jsonpath.Template | None = None
    _columns: list[tuple[str, jsonpath.Template]] = field(default_factory=list)
    _widths: dict[str, list[int]] = field(default_factory=dict)
    _headed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.format in ("jsonpath", "jsonpath-as-json"):
            self._compiled = jsonpath.Template(_braced(self.template))
        elif self.format == "custom-columns":
            self._columns = parse_custom_columns(self.template)

    @property
    def is_table(self) -> bool:
        return self.format in ("", "wide", "custom-columns")

    def print(self, objs: Sequence[api_pb2.Object], *, single: bool = False,
              with_kind: bool = False) -> str:
        """A get result: `single` for `get KIND NAME` with one name (no List wrapper)."""
        if self.format in ("yaml", "json", "jsonpath", "jsonpath-as-json"):
            doc = encode(objs[0]) if single and len(objs) == 1 else as_list(objs)
            if self.format == "yaml":
                return to_yaml(doc)
            if self.format == "json":
                return to_json(doc)
            assert self._compiled is not None
            if self.format == "jsonpath-as-json":
                return to_json(_jsonpath_values(self._compiled, doc))
            return self._compiled.render(doc)
        if self.format == "name":
            return "".join(object_name(o) + "\n" for o in objs)
        if self.format == "custom-columns":
            return self._custom(objs, headers=not self.no_headers)
        return self._tables(objs, with_kind=with_kind)

    def print_watch(self, obj: api_pb2.Object, *, with_kind: bool = False) -> str:
        """One watch event's object: a table row (header once), or a document."""
        if self.format == "yaml":
            return "---\n" + to_yaml(encode(obj))
        if self.format == "json":
            return to_json(encode(obj))
        if self.format in ("jsonpath", "jsonpath-as-json"):
            return self.print([obj], single=True)
        if self.format == "name":
            return object_name(obj) + "\n"
        resource = kinds.of(obj).resource
        headed = resource in self._headed
        self._headed.add(resource)
        if self.format == "custom-columns":
            return self._custom([obj], headers=not headed and not self.no_headers)
        return self._tables([obj], with_kind=with_kind, headers=not headed)

    def mark_headed(self, resource: str) -> None:
        """The table of `resource` already has its header (printed by a list)."""
        self._headed.add(resource)

    # -- tables ---------------------------------------------------------------------------------

    def _tables(self, objs: Sequence[api_pb2.Object], *, with_kind: bool = False,
                headers: bool = True) -> str:
        groups: dict[str, list[api_pb2.Object]] = {}
        for o in objs:
            groups.setdefault(kinds.of(o).resource, []).append(o)
        now = time.time()
        wide = self.format == "wide"
        out: list[str] = []
        for resource, items in groups.items():
            hdr = columns.headers(resource, wide=wide, namespace_column=self.namespace_column,
                                  show_labels=self.show_labels,
                                  label_columns=self.label_columns)
            rows = [columns.row(o, wide=wide, namespace_column=self.namespace_column,
                                show_labels=self.show_labels, with_kind=with_kind, now=now,
                                label_columns=self.label_columns)
                    for o in items]
            status_col = columns.table_for(resource).status_column
            if status_col >= 0 and self.namespace_column:
                status_col += 1
            colour = _status_colour(status_col) if self.colour and status_col >= 0 else None
            widths = self._widths.setdefault(resource, [])
            out.append(table.render(None if (self.no_headers or not headers) else hdr, rows,
                                    colour, widths))
        return "\n".join(out)

    def _custom(self, objs: Sequence[api_pb2.Object], *, headers: bool) -> str:
        hdr = [h for h, _ in self._columns]
        rows = []
        for o in objs:
            doc = encode(o)
            cells = []
            for _, tmpl in self._columns:
                values = _jsonpath_values(tmpl, doc)
                cells.append(",".join(jsonpath.format_value(v) for v in values) or "<none>")
            rows.append(cells)
        return table.render(hdr if headers else None, rows, None,
                            self._widths.setdefault("custom-columns", []))


def _jsonpath_values(tmpl: jsonpath.Template, doc: Any) -> list[Any]:
    values: list[Any] = []
    for node in tmpl._nodes:
        if isinstance(node, jsonpath._Expr):
            for p in node.paths:
                values.extend(jsonpath.evaluate(p, doc, doc))
    return values


def _braced(template: str) -> str:
    t = template.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        t = t[1:-1]
    return t if "{" in t else "{" + t + "}"


def sort_key(field: str) -> Callable[[api_pb2.Object], tuple[int, Any]]:
    """--sort-by: a key function from a JSONPath like '.metadata.creationTimestamp'."""
    expr = field.strip()
    if not expr.startswith("{"):
        expr = "{" + (expr if expr.startswith((".", "$")) else "." + expr) + "}"
    try:
        tmpl = jsonpath.Template(expr)
    except jsonpath.JSONPathError as e:
        raise OutputError(f"couldn't parse --sort-by {field}: {e}") from None

    def key(obj: api_pb2.Object) -> tuple[int, Any]:
        values = _jsonpath_values(tmpl, encode(obj))
        if not values:
            return (0, "")
        v = values[0]
        if isinstance(v, bool | int | float):
            return (1, float(v))
        return (2, jsonpath.format_value(v))

    return key


def parse_custom_columns(spec: str) -> list[tuple[str, jsonpath.Template]]:
    """'NAME:.metadata.name,IMAGE:.spec.containers[*].image' -> [(header, template)]."""
    out = []
    for part in _split_columns(spec):
        header, sep, expr = part.partition(":")
        if not sep or not header or not expr:
            raise OutputError(
                f'unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>'
            )
        expr = expr.strip()
        if not expr.startswith("{"):
            expr = "{" + (expr if expr.startswith((".", "$", "@", "[")) else "." + expr) + "}"
        out.append((header, jsonpath.Template(expr)))
    if not out:
        raise OutputError("custom-columns format specified but no custom columns given")
    return out


def _split_columns(spec: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in spec:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_GOOD = {"Running", "Ready", "Active", "Completed", "Succeeded", "Normal"}
_WARN = {"Pending", "ContainerCreating", "PodInitializing", "Terminating", "Unknown"}


def _status_colour(col: int) -> table.Colour:
    def colour(i: int, cell: str) -> str:
        if i != col:
            return cell
        if cell in _GOOD:
            code = "32"
        elif cell in _WARN or (cell.startswith("Init:") and cell[5:6].isdigit()):
            code = "33"
        else:
            code = "31"
        return f"\x1b[{code}m{cell}\x1b[0m"

    return colour


def make_printer(output: str, *, namespace_column: bool = False, show_labels: bool = False,
                 no_headers: bool = False, colour: bool = False,
                 label_columns: tuple[str, ...] = ()) -> Printer:
    """Parse an -o value into a Printer; raises OutputError like kubectl for unknown ones."""
    fmt, _, template = output.partition("=")
    if fmt in ("jsonpath", "jsonpath-as-json", "custom-columns"):
        if not template:
            raise OutputError(f"{fmt} format specified but no {fmt} template given")
        try:
            return Printer(fmt, template, namespace_column, show_labels, no_headers, colour)
        except jsonpath.JSONPathError as e:
            raise OutputError(f"error parsing jsonpath {template}: {e}") from None
    if fmt not in ("", "wide", "yaml", "json", "name") or template:
        allowed = "custom-columns,json,jsonpath,jsonpath-as-json,name,wide,yaml"
        raise OutputError(f'unable to match a printer suitable for the output format "{output}",'
                          f" allowed formats are: {allowed}")
    return Printer(fmt, "", namespace_column, show_labels, no_headers, colour, label_columns)
