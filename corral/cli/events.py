"""`corral events`: kubectl's newer verb, the events of a namespace (or all, -A, or of one
object, --for TYPE/NAME) oldest first, and with --watch the new ones as they happen."""

from __future__ import annotations

import argparse

from corral import errors
from corral.cli.common import Cli, CliError, lookup_kind
from corral.printers.output import Printer, make_printer
from proto import api_pb2, columns

EXAMPLES = """\
examples:
  corral events                            # the current namespace's, oldest first
  corral events -A --watch                 # every namespace, then new ones as they come
  corral events --for pod/web              # one object's
  corral events --types=Warning            # only warnings
"""

TYPES = ("Normal", "Warning")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("events", parents=parents, help="list events",
                       description="Display events, oldest first.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-A", "--all-namespaces", action="store_true",
                   help="the events of every namespace")
    p.add_argument("--for", dest="for_", default="", metavar="TYPE/NAME",
                   help="only the events about this object")
    p.add_argument("--types", default="", metavar="TYPES",
                   help="only events of these types (comma list of Normal, Warning)")
    p.add_argument("-w", "--watch", action="store_true",
                   help="after listing, print new events as they happen")
    p.add_argument("-o", "--output", default="", metavar="FORMAT", help="yaml|json|name|...")
    p.add_argument("--no-headers", action="store_true")
    p.set_defaults(func=run)


def field_selector(for_: str) -> str:
    """involvedObject.kind=Pod,involvedObject.name=web of `pod/web`."""
    if not for_:
        return ""
    type_, sep, name = for_.partition("/")
    if not sep or not name:
        raise CliError(f'--for must be in the form TYPE/NAME, not "{for_}"')
    kind = lookup_kind(type_)
    return f"involvedObject.kind={kind.kind},involvedObject.name={name}"


def _types(text: str) -> set[str]:
    if not text:
        return set(TYPES)
    wanted = set()
    for t in text.split(","):
        match = [x for x in TYPES if x.lower() == t.strip().lower()]
        if not match:
            raise CliError(f"valid --types are {', '.join(TYPES)}, not {t!r}")
        wanted.add(match[0])
    return wanted


def run(cli: Cli, args: argparse.Namespace) -> int:
    ns = "" if args.all_namespaces else cli.namespace
    selector = field_selector(args.for_)
    types = _types(args.types)
    printer = make_printer(args.output, namespace_column=args.all_namespaces,
                           no_headers=args.no_headers, colour=cli.colour)
    lst = cli.client.list("events", ns, field_selector=selector)
    items = sorted((e for e in lst.items if (e.event.type or "Normal") in types),
                   key=lambda o: columns.event_time(o.event))
    if items:
        cli.out.write(printer.print(items))
        cli.out.flush()
        printer.mark_headed("events")
    elif not args.watch:
        cli.err.write(f"No events found in {ns} namespace.\n" if ns else "No events found.\n")
    if args.watch:
        return _watch(cli, ns, selector, types, printer, lst.resource_version)
    return 0


def _watch(cli: Cli, ns: str, selector: str, types: set[str], printer: Printer,
           rv: str) -> int:
    while True:
        stream = cli.client.watch("events", ns, field_selector=selector, resource_version=rv)
        try:
            for ev in stream:
                rv = ev.resource_version or rv
                if ev.type in ("ADDED", "MODIFIED") and _wanted(ev.object, types):
                    cli.out.write(printer.print_watch(ev.object))
                    cli.out.flush()
        except errors.Gone:
            rv = cli.client.list("events", ns, field_selector=selector).resource_version
        except KeyboardInterrupt:
            stream.cancel()
            return 0


def _wanted(obj: api_pb2.Object, types: set[str]) -> bool:
    return (obj.event.type or "Normal") in types
