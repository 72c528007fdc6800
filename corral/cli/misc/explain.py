"""The `corral explain` verb: the fields of a resource, from its protobuf schema."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from corral.cli.common import Cli, CliError
from corral.cli.misc.verbparser import verb_parser
from proto import descriptions, kinds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = verb_parser(sub, parents, "explain", "list the fields of a resource",
                    "  corral explain pods\n  corral explain pod.spec.containers\n"
                    "  corral explain deploy.spec.strategy --recursive\n")
    p.add_argument("field", metavar="TYPE[.FIELD...]")
    p.add_argument("--recursive", action="store_true", help="every field, nested")
    p.set_defaults(func=run_explain)


_SCALARS = {
    FieldDescriptor.TYPE_STRING: "string", FieldDescriptor.TYPE_BOOL: "boolean",
    FieldDescriptor.TYPE_BYTES: "string", FieldDescriptor.TYPE_DOUBLE: "number",
    FieldDescriptor.TYPE_FLOAT: "number",
}


def field_type(fd: Any) -> str:
    """kubectl explain's type names: <string>, <integer>, <[]Container>, <map[string]string>."""
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        value = fd.message_type.fields_by_name["value"]
        return f"map[string]{field_type(value)}"
    if fd.message_type is not None:
        name = fd.message_type.name
        if fd.message_type.full_name == "google.protobuf.Timestamp":
            name = "string"
        elif fd.message_type.full_name == "corral.v1.IntOrString":
            name = "IntOrString"
        base = name if fd.message_type.full_name != "google.protobuf.Timestamp" else "string"
    else:
        base = _SCALARS.get(fd.type, "integer")
    repeated = getattr(fd, "is_repeated", None)
    is_rep = repeated if isinstance(repeated, bool) else \
        fd.label == FieldDescriptor.LABEL_REPEATED
    return f"[]{base}" if is_rep else base


def _is_object(fd: Any) -> bool:
    return (fd.message_type is not None and not fd.message_type.GetOptions().map_entry
            and fd.message_type.full_name not in ("google.protobuf.Timestamp",
                                                   "corral.v1.IntOrString"))


def _fields(cli: Cli, desc: Any, indent: int, recursive: bool, depth: int = 0,
            top: bool = False) -> None:
    for fd in desc.fields:
        cli.print(f"{'  ' * indent}{fd.json_name}\t<{field_type(fd)}>")
        if not recursive:
            text = _describe(desc.full_name, fd.name, top)
            for line in textwrap.wrap(text, 76):
                cli.print(f"{'  ' * (indent + 1)}{line}")
            cli.print()
        if recursive and _is_object(fd) and depth < 12:
            _fields(cli, fd.message_type, indent + 1, recursive, depth + 1)


def _describe(message: str, field: str, top: bool) -> str:
    """A field's description (a kind's apiVersion, kind and metadata have common words)."""
    return (descriptions.of_kind_field if top else descriptions.of)(message, field) or \
        "<no description>"


def run_explain(cli: Cli, args: argparse.Namespace) -> int:
    parts = args.field.split(".")
    try:
        kind = kinds.lookup(parts[0])
    except kinds.UnknownKind as e:
        raise CliError(str(e)) from None
    desc: Any = kind.message.DESCRIPTOR
    fd: Any | None = None
    parent: Any = desc
    path = []
    for p in parts[1:]:
        parent = desc
        by_json = {f.json_name: f for f in desc.fields}
        fd = by_json.get(p)
        if fd is None:
            raise CliError(f'field "{p}" does not exist')
        path.append(p)
        if _is_object(fd):
            desc = fd.message_type
        elif p != parts[-1]:
            raise CliError(f'field "{p}" is not an object; it has no fields')
    cli.print(f"KIND:       {kind.kind}")
    cli.print(f"VERSION:    {kind.api_version}")
    cli.print()
    if fd is not None:
        cli.print(f"FIELD: {fd.json_name} <{field_type(fd)}>")
        cli.print()
    cli.print("DESCRIPTION:")
    if fd is None:
        text = descriptions.of(desc.full_name) or "<no description>"
    else:
        text = _describe(parent.full_name, fd.name, parent is kind.message.DESCRIPTOR)
    for line in textwrap.wrap(text, 76):
        cli.print(f"    {line}")
    cli.print()
    if fd is None or _is_object(fd):
        cli.print("FIELDS:")
        _fields(cli, desc, 1, args.recursive, top=fd is None)
    return 0
