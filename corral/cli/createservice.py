"""`corral create service clusterip|nodeport|externalname NAME`, with kubectl's flags
(selector and label app=NAME, one port per --tcp named PORT-TARGET).

    corral create service clusterip web --tcp=80:8080
    corral create service clusterip db --clusterip=None          # headless
    corral create service nodeport web --tcp=80:8080 --node-port=30080
    corral create service externalname search --external-name=search.example.com
"""

from __future__ import annotations

import argparse

from corral.cli.common import Cli, CliError, add_output_flag
from corral.cli.servicebuild import BuildError, created
from corral.printers.output import make_printer


def _kinds(create: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The `create KIND` subcommands (one set per parser: other kinds may add theirs)."""
    for action in create._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return create.add_subparsers(dest="create_kind", metavar="KIND", required=False,
                                 title="create from flags")


def register(create: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]) -> None:
    svc = _kinds(create).add_parser("service", parents=parents, aliases=["svc"],
                                    help="create a service of a given type",
                                    description="Create a service: clusterip, nodeport or "
                                                "externalname.")
    types = svc.add_subparsers(dest="service_kind", metavar="TYPE", required=True)
    for kind, help_ in (("clusterip", "a ClusterIP service"),
                        ("nodeport", "a NodePort service"),
                        ("externalname", "an ExternalName service")):
        p = types.add_parser(kind, parents=parents, help=f"create {help_}",
                             description=f"Create {help_}.")
        p.add_argument("name", metavar="NAME")
        if kind != "externalname":
            p.add_argument("--tcp", action="append", default=[], metavar="PORT[:TARGET]",
                           help="a port and the pod's port it forwards to; repeatable")
        if kind == "clusterip":
            p.add_argument("--clusterip", default="",
                           help="the cluster IP to ask for; None: a headless service")
        if kind == "nodeport":
            p.add_argument("--node-port", type=int, default=0,
                           help="the node port (default: allocated)")
        if kind == "externalname":
            p.add_argument("--external-name", required=True,
                           help="the external DNS name the service stands for")
        p.add_argument("--dry-run", nargs="?", const="server", default="none",
                       choices=("none", "server", "client"))
        add_output_flag(p)
        p.set_defaults(func=run, service_kind=kind)


def run(cli: Cli, args: argparse.Namespace) -> int:
    try:
        svc = created(args.service_kind, args.name, getattr(args, "tcp", []),
                      cluster_ip=getattr(args, "clusterip", ""),
                      node_port=getattr(args, "node_port", 0),
                      external_name=getattr(args, "external_name", ""),
                      namespace=cli.namespace)
    except BuildError as e:
        raise CliError(str(e)) from None
    out = svc if args.dry_run == "client" else \
        cli.client.create(svc, dry_run=args.dry_run == "server")
    if args.output:
        cli.out.write(make_printer(args.output).print([out], single=True))
    else:
        suffix = " (dry run)" if args.dry_run == "client" else \
            " (server dry run)" if args.dry_run == "server" else ""
        cli.print(f"service/{out.service.metadata.name} created{suffix}")
    return 0
