"""`corral replace -f FILE [--force]`: write each object of the files as it is (an update;
with its resourceVersion, only if nobody wrote since). --force deletes and creates it
again, waiting for the old one to be gone, as kubectl does."""

from __future__ import annotations

import argparse

from corral import errors, manifests
from corral.cli.apply import prepare
from corral.cli.common import Cli, CliError, duration_arg, meta_of
from corral.cli.delete import wait_for_deletion
from corral.printers.output import make_printer
from proto import api_pb2, columns, kinds
from proto.codec import DecodeError

EXAMPLES = """\
examples:
  corral replace -f web.yaml               # the object must exist
  corral get pod web -o yaml | sed 's/v1/v2/' | corral replace -f -
  corral replace --force -f pod.yaml       # delete, then create again
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("replace", parents=parents, help="replace a resource by file name or "
                       "stdin", description="Replace a resource by file name or stdin.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE")
    p.add_argument("-R", "--recursive", action="store_true")
    p.add_argument("--force", action="store_true",
                   help="delete and create again (a pod's fields that cannot change)")
    p.add_argument("--grace-period", type=int, default=-1, metavar="SECONDS",
                   help="with --force: seconds given to a pod to stop (-1: its own)")
    p.add_argument("--timeout", type=duration_arg, default=0.0, metavar="DURATION",
                   help="with --force: how long to wait for the deletion (0: as long as it "
                        "takes)")
    p.add_argument("--dry-run", nargs="?", const="server", default="none",
                   choices=("none", "server", "client"))
    p.add_argument("-o", "--output", default="", metavar="FORMAT",
                   help="print the results as yaml|json|name")
    p.set_defaults(func=run)


def _force(cli: Cli, args: argparse.Namespace, obj: api_pb2.Object) -> api_pb2.Object:
    kind, meta = kinds.of(obj), meta_of(obj)
    try:
        old = cli.client.delete(kind.resource, meta.name, meta.namespace,
                                grace_period_seconds=args.grace_period
                                if args.grace_period >= 0 else None)
        cli.print(f'{columns.qualified_kind(kind)} "{meta.name}" deleted')
        if not meta_of(old).name:
            meta_of(old).name, meta_of(old).namespace = meta.name, meta.namespace
        if not wait_for_deletion(cli, kind, [old], args.timeout):
            raise CliError(f"{columns.qualified_kind(kind)}/{meta.name} was not deleted in "
                           "time; not created again")
    except errors.NotFound:
        pass
    meta.resource_version = ""
    meta.uid = ""
    return cli.client.create(obj)


def run(cli: Cli, args: argparse.Namespace) -> int:
    if not args.filename:
        raise CliError("must specify -f")
    if args.force and args.dry_run != "none":
        raise CliError("--dry-run cannot be used with --force")
    printer = make_printer(args.output) if args.output else None
    seen = 0
    for item in manifests.load(args.filename, args.recursive):
        seen += 1
        if isinstance(item, manifests.BadDocument):
            cli.error(str(item))
            continue
        try:
            obj = prepare(cli, item.doc)
        except (DecodeError, CliError) as e:
            cli.error(f"{item.where}: {e}")
            continue
        kind, name = kinds.of(obj), meta_of(obj).name
        try:
            if args.force:
                result = _force(cli, args, obj)
            elif args.dry_run == "client":
                result = obj
            else:
                result = cli.client.update(obj, dry_run=args.dry_run == "server")
        except (errors.Unavailable, errors.Unauthenticated):
            raise
        except errors.ClientError as e:
            cli.server_error(e, f'error when replacing "{item.source}"')
            continue
        if printer is not None:
            cli.out.write(printer.print([result], single=True))
            continue
        suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")
        cli.print(f"{columns.qualified_kind(kind)}/{name} replaced{suffix}")
    if seen == 0:
        raise CliError("no objects passed to replace")
    return 1 if cli.failed else 0
