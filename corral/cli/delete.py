"""`corral delete`: by name, by file or by selector; waits until gone unless --wait=false."""

from __future__ import annotations

import argparse
import time

from corral import errors, manifests
from corral.cli.apply import prepare
from corral.cli.common import Cli, CliError, duration_arg, meta_of, not_found, parse_targets
from proto import api_pb2, columns, kinds
from proto.codec import DecodeError

EXAMPLES = """\
examples:
  corral delete pod web                    # waits until the pod is gone
  corral delete -f manifests/web.yaml      # everything a file describes
  corral delete pods -l app=web            # by label
  corral delete deploy/web --wait=false    # do not wait
  corral delete pod web --grace-period=0 --force
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("delete", parents=parents, help="delete resources",
                       description="Delete resources by file names, stdin, names, or selectors.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME]")
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE")
    p.add_argument("-R", "--recursive", action="store_true")
    p.add_argument("-l", "--selector", default="", metavar="SELECTOR")
    p.add_argument("--field-selector", default="", metavar="SELECTOR")
    p.add_argument("--all", action="store_true", help="delete every object of the type")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--wait", default="true", choices=("true", "false"), nargs="?", const="true",
                   help="wait until the objects are gone (default true)")
    p.add_argument("--timeout", type=duration_arg, default=0.0, metavar="DURATION",
                   help="how long to wait for deletion (0: as long as it takes)")
    p.add_argument("--grace-period", type=int, default=-1, metavar="SECONDS",
                   help="seconds given to the pod to stop (-1: the pod's own)")
    p.add_argument("--now", action="store_true", help="same as --grace-period=1")
    p.add_argument("--force", action="store_true",
                   help="remove at once, without waiting for the node to confirm")
    p.add_argument("--ignore-not-found", action="store_true")
    p.add_argument("--cascade", default="background",
                   choices=("background", "foreground", "orphan"))
    p.add_argument("--dry-run", nargs="?", const="server", default="none",
                   choices=("none", "server", "client"))
    p.set_defaults(func=run)


def wait_for_deletion(cli: Cli, kind: kinds.Kind, objs: list[api_pb2.Object],
                      timeout: float) -> bool:
    """Block until every object (by name and uid) is gone; False on timeout (reported)."""
    deadline = time.monotonic() + timeout if timeout > 0 else None
    for obj in objs:
        meta = meta_of(obj)
        while True:
            try:
                cur = cli.client.get(kind.resource, meta.name, meta.namespace)
            except errors.NotFound:
                break
            if meta.uid and meta_of(cur).uid != meta.uid:
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                cli.error(f"timed out waiting for the condition on "
                          f"{kind.resource}/{meta.name}")
                return False
            stream = cli.client.watch(kind.resource, meta.namespace,
                                      field_selector=f"metadata.name={meta.name}",
                                      resource_version=meta_of(cur).resource_version,
                                      timeout=remaining)
            try:
                for ev in stream:
                    if ev.type == "DELETED":
                        break
                    if meta.uid and meta_of(ev.object).uid != meta.uid:
                        break
                else:
                    continue      # stream ended: look again
                stream.cancel()
                break
            except errors.Gone:
                continue
            except errors.Timeout:
                cli.error(f"timed out waiting for the condition on "
                          f"{kind.resource}/{meta.name}")
                return False
    return True


def _delete_one(cli: Cli, args: argparse.Namespace, kind: kinds.Kind, name: str,
                namespace: str) -> api_pb2.Object | None:
    grace: int | None = None
    if args.now:
        grace = 1
    if args.grace_period >= 0:
        grace = args.grace_period
    if args.force and grace is None:
        grace = 0
    if args.force and grace == 0:
        grace = 0
    dry_run = args.dry_run != "none"
    try:
        obj = cli.client.delete(kind.resource, name, namespace, grace_period_seconds=grace,
                                propagation_policy=args.cascade.capitalize(), dry_run=dry_run)
    except errors.NotFound:
        if not args.ignore_not_found:
            cli.server_error(not_found(kind, name))
        return None
    except (errors.Unavailable, errors.Unauthenticated):
        raise
    except errors.ClientError as e:
        cli.server_error(e)
        return None
    verb = "force deleted" if args.force and grace == 0 else "deleted"
    suffix = " (server dry run)" if dry_run else ""
    cli.print(f'{columns.qualified_kind(kind)} "{name}" {verb}{suffix}')
    if not meta_of(obj).name:
        meta_of(obj).name = name
        meta_of(obj).namespace = namespace
    return obj


def run(cli: Cli, args: argparse.Namespace) -> int:
    if args.force and args.grace_period < 0:
        args.grace_period = 0
    if args.force and args.grace_period == 0:
        cli.err.write("Warning: Immediate deletion does not wait for confirmation that the "
                      "running resource has been terminated. The resource may continue to run "
                      "on the cluster indefinitely.\n")
    namespace = "" if args.all_namespaces else cli.namespace
    plan: list[tuple[kinds.Kind, str, str]] = []   # kind, name, namespace
    if args.filename:
        if args.resources:
            raise CliError("cannot specify both resource names and -f")
        for item in manifests.load(args.filename, args.recursive):
            if isinstance(item, manifests.BadDocument):
                cli.error(str(item))
                continue
            try:
                decoded = prepare(cli, item.doc)
            except (DecodeError, CliError) as e:
                cli.error(f"{item.where}: {e}")
                continue
            m = meta_of(decoded)
            plan.append((kinds.of(decoded), m.name, m.namespace))
    else:
        targets = parse_targets(args.resources, "delete")
        for t in targets:
            if t.names:
                if args.selector or args.all:
                    raise CliError("name cannot be provided when a selector or --all is specified")
                plan.extend((t.kind, n, namespace) for n in t.names)
            elif args.selector or args.field_selector or args.all:
                lst = cli.client.list(t.kind.resource, namespace, args.selector,
                                      args.field_selector)
                plan.extend((t.kind, meta_of(o).name, meta_of(o).namespace) for o in lst.items)
                if not lst.items and not cli.failed:
                    where = f" in {namespace} namespace" if namespace and t.kind.namespaced \
                        else ""
                    cli.err.write(f"No resources found{where}\n")
            else:
                raise CliError("resource(s) were provided, but no name was specified")
    deleted: dict[str, tuple[kinds.Kind, list[api_pb2.Object]]] = {}
    for kind, name, ns in plan:
        obj = _delete_one(cli, args, kind, name, ns)
        if obj is not None:
            deleted.setdefault(kind.resource, (kind, []))[1].append(obj)
    if args.wait == "true" and args.dry_run == "none":
        for kind, objs in deleted.values():
            if not wait_for_deletion(cli, kind, objs, args.timeout):
                return 1
    return 1 if cli.failed else 0
