"""`corral get`: tables, -o formats, selectors and --watch."""

from __future__ import annotations

import argparse

from corral import errors
from corral.cli.common import Cli, CliError, Target, meta_of, not_found, parse_targets
from corral.printers.output import Printer, make_printer, sort_key
from proto import api_pb2, columns, kinds

EXAMPLES = """\
examples:
  corral get pods                          # pods of the current namespace
  corral get po -o wide -A                 # every namespace, with IP and NODE
  corral get deploy web -o yaml            # one object as YAML
  corral get pods/web deploy/web           # TYPE/NAME form
  corral get po,deploy -l app=web          # several types, a label selector
  corral get pods --field-selector spec.nodeName=node-1
  corral get pods -o jsonpath='{.items[*].metadata.name}'
  corral get pods -o custom-columns=NAME:.metadata.name,IP:.status.podIP
  corral get pods -w                       # watch for changes
  corral get pods -A --chunk-size 100      # a big list, 100 objects per request
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("get", parents=parents, help="display one or many resources",
                       description="Display one or many resources.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("resources", nargs="*", metavar="TYPE[.NAME]",
                   help="TYPE [NAME...], TYPE/NAME..., or TYPE1,TYPE2")
    p.add_argument("-o", "--output", default="", metavar="FORMAT",
                   help="wide|yaml|json|name|jsonpath=TEMPLATE|custom-columns=SPEC")
    p.add_argument("-l", "--selector", default="", metavar="SELECTOR",
                   help="label selector, e.g. app=web,tier!=db")
    p.add_argument("--field-selector", default="", metavar="SELECTOR",
                   help="field selector, e.g. spec.nodeName=node-1,status.phase=Running")
    p.add_argument("-A", "--all-namespaces", action="store_true",
                   help="list across all namespaces")
    p.add_argument("-w", "--watch", action="store_true",
                   help="after listing, watch for changes")
    p.add_argument("--watch-only", action="store_true",
                   help="watch for changes without listing first")
    p.add_argument("--show-labels", action="store_true", help="add a LABELS column")
    p.add_argument("-L", "--label-columns", action="append", default=[], metavar="KEY",
                   help="a column with the value of this label (repeatable, or comma list)")
    p.add_argument("--sort-by", default="", metavar="JSONPATH",
                   help="sort by a field, e.g. .metadata.creationTimestamp")
    p.add_argument("--no-headers", action="store_true", help="print tables without headers")
    p.add_argument("--chunk-size", type=int, default=500, metavar="N",
                   help="read large lists N objects at a time (0: all at once)")
    p.set_defaults(func=run, intermixed="resources")


def _fetch(cli: Cli, target: Target, namespace: str, args: argparse.Namespace
           ) -> tuple[list[api_pb2.Object], str]:
    """The objects of one target, and the list's resourceVersion (for watch)."""
    if target.names:
        objs: list[api_pb2.Object] = []
        for name in target.names:
            try:
                objs.append(cli.client.get(target.kind.resource, name, namespace))
            except errors.NotFound:
                cli.server_error(not_found(target.kind, name))
        return objs, ""
    return list_in_chunks(cli, target.kind.resource, namespace, args.selector,
                          args.field_selector, args.chunk_size)


def list_in_chunks(cli: Cli, resource: str, namespace: str, label_selector: str,
                   field_selector: str, chunk_size: int) -> tuple[list[api_pb2.Object], str]:
    """Every object, read `chunk_size` at a time (0: in one answer); and the revision of
    the list (every page is read at the first one's)."""
    items: list[api_pb2.Object] = []
    token = ""
    while True:
        page = cli.client.list(resource, namespace, label_selector, field_selector,
                               limit=chunk_size, continue_token=token)
        items.extend(page.items)
        token = page.continue_token
        if not token:
            return items, page.resource_version


def run(cli: Cli, args: argparse.Namespace) -> int:
    if args.chunk_size < 0:
        raise CliError(f"--chunk-size must be 0 or more, not {args.chunk_size}")
    targets = parse_targets(args.resources, "get")
    all_ns = args.all_namespaces
    namespace = "" if all_ns else cli.namespace
    namespaced = any(t.kind.namespaced for t in targets)
    printer = make_printer(args.output, namespace_column=all_ns and namespaced,
                           show_labels=args.show_labels, no_headers=args.no_headers,
                           colour=cli.colour,
                           label_columns=tuple(k for item in args.label_columns
                                               for k in item.split(",") if k))
    with_kind = len(targets) > 1 or args.resources[0].split(",")[0] == "all"
    watching = args.watch or args.watch_only
    if watching and len(targets) != 1:
        raise CliError("you may only specify a single resource type when watching")
    objs: list[api_pb2.Object] = []
    rv = ""
    any_names = False
    for t in targets:
        any_names = any_names or bool(t.names)
        got, rv = _fetch(cli, t, namespace, args)
        objs.extend(got)
    if printer.is_table and any(t.kind.resource == "events" for t in targets):
        objs.sort(key=lambda o: columns.event_time(o.event) if o.HasField("event") else 0.0)
    if args.sort_by:
        objs.sort(key=sort_key(args.sort_by))
    single = len(targets) == 1 and len(targets[0].names) == 1
    if not args.watch_only:
        if objs:
            text = printer.print(objs, single=single, with_kind=with_kind)
            cli.out.write(text)
            cli.out.flush()
        elif not any_names and (printer.is_table or printer.format == "name") \
                and not watching:
            _no_resources(cli, targets, namespace)
        elif not any_names and printer.format in ("yaml", "json") and not watching:
            cli.out.write(printer.print([], single=False))
    if watching:
        return _watch(cli, targets[0], namespace, args, printer, rv, objs, with_kind)
    return 0


def _no_resources(cli: Cli, targets: list[Target], namespace: str) -> None:
    if namespace and any(t.kind.namespaced for t in targets):
        cli.err.write(f"No resources found in {namespace} namespace.\n")
    else:
        cli.err.write("No resources found\n")
    cli.err.flush()


def _watch(cli: Cli, target: Target, namespace: str, args: argparse.Namespace, printer: Printer,
           rv: str, listed: list[api_pb2.Object], with_kind: bool) -> int:
    kind: kinds.Kind = target.kind
    field_selector = args.field_selector
    if target.names:
        if len(target.names) > 1:
            raise CliError("watch is only supported on a single named resource or a collection")
        name_sel = f"metadata.name={target.names[0]}"
        field_selector = f"{field_selector},{name_sel}" if field_selector else name_sel
        rv = meta_of(listed[0]).resource_version if listed else ""
    if listed and not args.watch_only:
        printer.mark_headed(kind.resource)
    while True:
        stream = cli.client.watch(kind.resource, namespace, args.selector, field_selector, rv)
        try:
            for ev in stream:
                if ev.type == "BOOKMARK":
                    rv = ev.resource_version or rv
                    continue
                rv = ev.resource_version or meta_of(ev.object).resource_version or rv
                cli.out.write(printer.print_watch(ev.object, with_kind=with_kind))
                cli.out.flush()
            return 0
        except errors.Gone:
            lst = cli.client.list(kind.resource, namespace, args.selector, field_selector)
            rv = lst.resource_version
        except KeyboardInterrupt:
            stream.cancel()
            return 0
