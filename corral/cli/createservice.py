"""`corral create service clusterip|nodeport|externalname NAME`, with kubectl's flags
(selector and label app=NAME, one port per --tcp named PORT-TARGET).

    corral create service clusterip web --tcp=80:8080
    corral create service clusterip db --clusterip=None          # headless
    corral create service nodeport web --tcp=80:8080 --node-port=30080
    corral create service externalname search --external-name=search.example.com
"""

from __future__ import annotations

import argparse

from corral.cli.common import Cli, CliError
from corral.cli.creating import generator, kinds_of, send
from corral.cli.servicebuild import BuildError, created
from proto import codec

_EXAMPLES = {
    "clusterip": "  corral create service clusterip web --tcp=80:8080\n"
                 "  corral create service clusterip db --clusterip=None\n",
    "nodeport": "  corral create service nodeport web --tcp=80:8080 --node-port=30080\n",
    "externalname": "  corral create service externalname search "
                    "--external-name=search.example.com\n",
}


def register(create: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]) -> None:
    svc = kinds_of(create).add_parser("service", parents=parents, aliases=["svc"],
                                      help="create a service of a given type",
                                      description="Create a service: clusterip, nodeport or "
                                                  "externalname.")
    types = svc.add_subparsers(dest="service_kind", metavar="TYPE", required=True)
    for kind, help_ in (("clusterip", "a ClusterIP service"),
                        ("nodeport", "a NodePort service"),
                        ("externalname", "an ExternalName service")):
        p = generator(types, kind, parents, f"create {help_}", _EXAMPLES[kind])
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
    return send(cli, args, codec.encode(svc))
