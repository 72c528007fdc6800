"""`corral expose TYPE/NAME --port ...`: a Service for a deployment, replicaset, pod or
service, like `kubectl expose` (its selector, ports and labels by introspection).

    corral expose deploy/web --port 80 --target-port 8080
    corral expose deploy web --port 80 --type NodePort --name web-np
    corral expose pod/db --port 5432 --cluster-ip None        # headless
"""

from __future__ import annotations

import argparse

from corral.cli.common import Cli, CliError, add_output_flag, lookup_kind
from corral.cli.servicebuild import BuildError, ExposeFlags, exposed
from corral.printers.output import make_printer

EXAMPLES = """\
examples:
  corral expose deploy/web --port 80 --target-port 8080
  corral expose deployment web --port 80 --type NodePort
  corral expose pod/db --port 5432 --cluster-ip None
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("expose", parents=parents, epilog=EXAMPLES,
                       help="expose a deployment, replicaset, pod or service as a new Service",
                       description="Expose a resource as a new Service: its selector, "
                                   "ports and labels are taken from it unless given.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", nargs="+", metavar="TYPE/NAME | TYPE NAME")
    p.add_argument("--port", default="", help="the port the Service serves on")
    p.add_argument("--target-port", default="", help="name or number of the port on the "
                   "container to send traffic to (default: the same as --port)")
    p.add_argument("--protocol", default="", choices=("", "TCP", "UDP"),
                   help="the network protocol (default TCP, or the container port's)")
    p.add_argument("--name", default="", help="the Service's name (default: the resource's)")
    p.add_argument("--type", default="", choices=("", "ClusterIP", "NodePort", "ExternalName"),
                   help="the Service's type (default ClusterIP)")
    p.add_argument("--selector", default="", help="KEY=VALUE[,...] to select pods with "
                   "(default: the resource's selector or labels)")
    p.add_argument("-l", "--labels", default="", help="labels of the Service "
                   "(default: the resource's)")
    p.add_argument("--cluster-ip", default="", help="a cluster IP to ask for, or None "
                   "for a headless Service")
    p.add_argument("--session-affinity", default="", choices=("", "None", "ClientIP"))
    p.add_argument("--external-name", default="", help="the name of an ExternalName Service")
    p.add_argument("--dry-run", nargs="?", const="server", default="none",
                   choices=("none", "server", "client"))
    add_output_flag(p)
    p.set_defaults(func=run)


def run(cli: Cli, args: argparse.Namespace) -> int:
    t = args.target
    if len(t) == 1 and "/" in t[0]:
        type_, _, name = t[0].partition("/")
    elif len(t) == 2:
        type_, name = t
    else:
        raise CliError("expose needs TYPE/NAME or TYPE NAME, e.g. deploy/web")
    kind = lookup_kind(type_)
    obj = cli.client.get(kind.resource, name, cli.namespace)
    flags = ExposeFlags(port=args.port, target_port=args.target_port, protocol=args.protocol,
                        name=args.name, type=args.type, selector=args.selector,
                        labels=args.labels, cluster_ip=args.cluster_ip,
                        session_affinity=args.session_affinity,
                        external_name=args.external_name, namespace=cli.namespace)
    try:
        svc = exposed(obj, flags)
    except BuildError as e:
        raise CliError(str(e)) from None
    if args.dry_run == "client":
        out = svc
    else:
        out = cli.client.create(svc, dry_run=args.dry_run == "server")
    if args.output:
        cli.out.write(make_printer(args.output).print([out], single=True))
    else:
        suffix = " (dry run)" if args.dry_run == "client" else \
            " (server dry run)" if args.dry_run == "server" else ""
        cli.print(f"service/{out.service.metadata.name} exposed{suffix}")
    return 0
