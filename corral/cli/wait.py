"""`corral wait --for=...`: block until objects meet a condition, on a watch, as kubectl's:

    --for=condition=Available            status.conditions[type=Available].status True
    --for=condition=Ready=false          ... or another status
    --for=jsonpath='{.status.phase}'=Running    (or just '{.path}': the field exists)
    --for=delete                         the object (that uid) is gone
    --for=create                         the object exists

`--timeout` (default 30s; 0: look once; negative: a week) bounds the whole command.
Prints `pod/web condition met` per object; exit 1 on a timeout.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from corral import errors
from corral.cli.common import Cli, CliError, duration_arg, meta_of, parse_targets
from corral.printers.jsonpath import JSONPathError, evaluate, format_value, parse_path
from proto import api_pb2, codec, columns, kinds

EXAMPLES = """\
examples:
  corral wait --for=condition=Available deploy/web --timeout=60s
  corral wait --for=condition=Ready pods -l app=web
  corral wait --for=jsonpath='{.status.phase}'=Running pod/web
  corral wait --for=delete pod/web --timeout=30s
  corral wait --for=condition=complete job/pi
"""

FORMS = ("--for must be condition=CONDITION[=STATUS], delete, create, "
         "jsonpath='{PATH}'[=VALUE]")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("wait", parents=parents, help="wait for a condition on resources",
                       description="Wait for a specific condition on one or many resources.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("resources", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    p.add_argument("--for", dest="for_", default="", metavar="CONDITION",
                   help="condition=X[=STATUS], delete, create or jsonpath='{PATH}'[=VALUE]")
    p.add_argument("--timeout", type=duration_arg, default=30.0, metavar="DURATION",
                   help="give up after this long (default 30s; 0: check once; "
                        "negative: a week)")
    p.add_argument("-l", "--selector", default="", metavar="SELECTOR")
    p.add_argument("--all", action="store_true", help="every object of the type")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Condition:
    """A parsed --for: `met(obj)` with obj None for an absent object."""

    text: str
    met: Callable[[dict[str, Any] | None], bool]
    wants_absent: bool = False
    accepts_absent: bool = False


def _condition(type_: str, want: str) -> Callable[[dict[str, Any] | None], bool]:
    def met(doc: dict[str, Any] | None) -> bool:
        if doc is None:
            return False
        status = doc.get("status") or {}
        generation = doc.get("metadata", {}).get("generation", 0)
        if status.get("observedGeneration", generation) < generation:
            return False                 # the status is of an older spec
        for c in status.get("conditions") or []:
            if str(c.get("type", "")).lower() == type_.lower():
                if c.get("observedGeneration", generation) < generation:
                    return False
                return str(c.get("status", "")).lower() == want.lower()
        return False
    return met


def _jsonpath(expr: str) -> Callable[[dict[str, Any] | None], bool]:
    text, want = expr, None
    if expr.startswith("{"):
        end = expr.find("}")
        if end < 0 or (len(expr) > end + 1 and expr[end + 1] != "="):
            raise CliError(f"{FORMS}: {expr!r}")
        text = expr[1:end]
        want = expr[end + 2:] if len(expr) > end + 1 else None
    elif "=" in expr:
        text, _, want = expr.partition("=")
    try:
        path = parse_path(text)
    except JSONPathError as e:
        raise CliError(f"--for: {e}") from None

    def met(doc: dict[str, Any] | None) -> bool:
        if doc is None:
            return False
        found = evaluate(path, doc)
        if want is None:
            return bool(found)
        if len(found) > 1:
            raise CliError(f"given jsonpath expression matches more than one value: {text}")
        return bool(found) and format_value(found[0]) == want
    return met


def parse_for(text: str) -> Condition:
    if not text:
        raise CliError(FORMS)
    if text.lower() == "delete":
        return Condition(text, lambda doc: doc is None, wants_absent=True, accepts_absent=True)
    if text.lower() == "create":
        return Condition(text, lambda doc: doc is not None, accepts_absent=True)
    what, _, rest = text.partition("=")
    if what.lower() == "condition" and rest:
        type_, _, want = rest.partition("=")
        return Condition(text, _condition(type_, want or "True"))
    if what.lower() == "jsonpath" and rest:
        return Condition(text, _jsonpath(rest))
    raise CliError(f'unrecognized condition: "{text}"')


def _doc(obj: api_pb2.Object | None) -> dict[str, Any] | None:
    return None if obj is None else codec.encode(obj)


def wait_one(cli: Cli, kind: kinds.Kind, name: str, ns: str, cond: Condition,
             deadline: float) -> bool:
    """True when `cond` holds for the object; False at the deadline."""
    uid = ""
    while True:
        lst = cli.client.list(kind.resource, ns, field_selector=f"metadata.name={name}")
        obj = lst.items[0] if lst.items else None
        if obj is None and not cond.accepts_absent:
            raise errors.NotFound(f'{columns.qualified_resource(kind)} "{name}" not found')
        uid = uid or (meta_of(obj).uid if obj is not None else "")
        if cond.met(_doc(obj)):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        stream = cli.client.watch(kind.resource, ns, field_selector=f"metadata.name={name}",
                                  resource_version=lst.resource_version, timeout=remaining)
        try:
            for ev in stream:
                gone = ev.type == "DELETED" or (cond.wants_absent and uid
                                                and meta_of(ev.object).uid != uid)
                if cond.met(None if gone else _doc(ev.object)):
                    return True
                if gone and not cond.accepts_absent:
                    raise errors.NotFound(
                        f'{columns.qualified_resource(kind)} "{name}" not found')
        except errors.Gone:
            continue
        except errors.Timeout:
            return False
        finally:
            stream.cancel()


def run(cli: Cli, args: argparse.Namespace) -> int:
    cond = parse_for(args.for_)
    timeout = args.timeout if args.timeout >= 0 else 7 * 86400.0
    deadline = time.monotonic() + timeout
    todo: list[tuple[kinds.Kind, str, str]] = []
    for t in parse_targets(args.resources, "wait"):
        if t.names:
            todo.extend((t.kind, n, cli.namespace) for n in t.names)
        elif args.selector or args.all:
            for o in cli.client.list(t.kind.resource, cli.namespace, args.selector).items:
                todo.append((t.kind, meta_of(o).name, meta_of(o).namespace))
        else:
            raise CliError("resource(s) were provided, but no name was specified")
    if not todo:
        raise CliError("no matching resources found")
    for kind, name, ns in todo:
        if wait_one(cli, kind, name, ns, cond, deadline):
            cli.print(f"{columns.qualified_kind(kind)}/{name} condition met")
        else:
            cli.error(f"timed out waiting for the condition on {kind.resource}/{name}")
            return 1
    return 0
