"""What every `corral create KIND NAME` generator shares: its place under `create`, the
flags kubectl's generators all take (--dry-run, -o, --save-config) and sending the
object.

    sub = kinds_of(create_parser)                   # the `create KIND` subcommands
    p = generator(sub, "namespace", parents, "create a namespace", EXAMPLES)
    ...
    return send(cli, args, manifest)                # a dict in Kubernetes' JSON form

`send` decodes the manifest (so a generator needs only its kind in proto/kinds.py),
settles the namespace, and prints `namespace/demo created` (`(dry run)`,
`(server dry run)`) or the object with -o.
"""

from __future__ import annotations

import argparse
from typing import Any, TypeAlias

from corral.cli.common import Cli, CliError, add_output_flag, meta_of
from corral.printers.output import make_printer
from proto import api_pb2, columns, kinds
from proto.codec import DecodeError, decode
from proto.patch import LAST_APPLIED, last_applied

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def kinds_of(create: argparse.ArgumentParser) -> SubParsers:
    """The `create KIND` subcommands of the create parser, made on first use (several
    modules add kinds to it)."""
    for action in create._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return create.add_subparsers(dest="create_kind", metavar="KIND", required=False,
                                 title="create from flags")


def generator(sub: SubParsers, name: str, parents: list[argparse.ArgumentParser], help_: str,
              examples: str, aliases: tuple[str, ...] = (),
              ) -> argparse.ArgumentParser:
    """A `create KIND NAME` parser with kubectl's common generator flags."""
    p: argparse.ArgumentParser = sub.add_parser(
        name, parents=parents, aliases=list(aliases), help=help_,
        description=help_[0].upper() + help_[1:] + ".", epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--dry-run", nargs="?", const="server", default="none",
                   choices=("none", "server", "client"),
                   help="client: print the object without sending it; server: validate it "
                        "on the server without persisting it")
    add_output_flag(p)
    p.add_argument("--save-config", action="store_true",
                   help="keep the configuration in the last-applied annotation, so a later "
                        "`corral apply` merges with it")
    return p


def command_tail(p: argparse.ArgumentParser) -> None:
    """`-- COMMAND [ARGS...]` at the end (corral.cli.main puts what follows `--` there)."""
    p.add_argument("command", nargs="*", metavar="-- COMMAND [ARGS...]", default=[])
    p.set_defaults(tail="command")


def resource_of(api_version: str, kind: str) -> kinds.Kind:
    """The kind a generator makes; one the server does not serve is kubectl's error."""
    try:
        return kinds.by_api_version_kind(api_version, kind)
    except kinds.UnknownKind:
        raise CliError(f'the server doesn\'t have a resource type "{kind.lower()}s"') from None


def build(cli: Cli, args: argparse.Namespace, manifest: dict[str, Any]) -> api_pb2.Object:
    """The object of a generated manifest, in the namespace of this run."""
    kind = resource_of(manifest["apiVersion"], manifest["kind"])
    if kind.namespaced:
        manifest.setdefault("metadata", {})["namespace"] = cli.namespace
    if getattr(args, "save_config", False):     # what `corral apply` merges with next time
        manifest.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = \
            last_applied(manifest)
    try:
        return decode(manifest)
    except DecodeError as e:
        raise CliError(str(e)) from None


def send(cli: Cli, args: argparse.Namespace, manifest: dict[str, Any]) -> int:
    """Create (or with --dry-run only show) a generated object."""
    obj = build(cli, args, manifest)
    if args.dry_run == "client":
        result = obj
        if not cli.explicit_namespace:      # as kubectl: the namespace only when given
            meta_of(result).namespace = ""
    else:
        result = cli.client.create(obj, dry_run=args.dry_run == "server")
    if args.output:
        cli.out.write(make_printer(args.output).print([result], single=True))
        return 0
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")
    cli.print(f"{columns.qualified_kind(kinds.of(result))}/{meta_of(result).name} "
              f"created{suffix}")
    return 0
