"""The `corral version` and `corral api-resources` verbs."""

from __future__ import annotations

import argparse
import platform
from importlib import metadata

from corral import errors
from corral.cli.common import Cli
from corral.cli.misc.verbparser import verb_parser
from corral.printers import table
from corral.printers.output import to_json, to_yaml
from proto import api_pb2, kinds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = verb_parser(sub, parents, "version", "print the client and server version",
                    "  corral version\n  corral version --client\n  corral version -o json\n")
    p.add_argument("--client", action="store_true", help="the client version only")
    p.add_argument("-o", "--output", default="", choices=("", "yaml", "json"))
    p.set_defaults(func=run_version)

    p = verb_parser(sub, parents, "api-resources", "print the supported API resources",
                    "  corral api-resources\n  corral api-resources --namespaced=false\n"
                    "  corral api-resources -o name\n")
    p.add_argument("--namespaced", choices=("true", "false"), default=None)
    p.add_argument("-o", "--output", default="", choices=("", "wide", "name"))
    p.add_argument("--no-headers", action="store_true")
    p.set_defaults(func=run_api_resources)


def client_version() -> str:
    try:
        return metadata.version("corral")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def run_version(cli: Cli, args: argparse.Namespace) -> int:
    client = {"version": "v" + client_version(), "pythonVersion": platform.python_version(),
              "platform": f"{platform.system().lower()}/{platform.machine()}"}
    server: dict[str, str] | None = None
    err: errors.ClientError | None = None
    if not args.client:
        try:
            v = cli.client.version()
            server = {"version": v.version if v.version.startswith("v") else "v" + v.version,
                      "gitCommit": v.git_commit, "pythonVersion": v.python_version,
                      "platform": v.platform, "etcdVersion": v.etcd_version}
        except errors.ClientError as e:
            err = e
    if args.output:
        doc: dict[str, object] = {"clientVersion": client}
        if server is not None:
            doc["serverVersion"] = server
        cli.out.write(to_json(doc) if args.output == "json" else to_yaml(doc))
    else:
        cli.print(f"Client Version: {client['version']}")
        if server is not None:
            cli.print(f"Server Version: {server['version']}")
    if err is not None:
        cli.server_error(err)
        return 1
    return 0


def run_api_resources(cli: Cli, args: argparse.Namespace) -> int:
    try:
        resources: list[api_pb2.ApiResource] = cli.client.api_resources()
    except errors.Unsupported:
        resources = [api_pb2.ApiResource(name=k.resource, singular_name=k.singular,
                                         short_names=k.short_names, api_version=k.api_version,
                                         kind=k.kind, namespaced=k.namespaced)
                     for k in kinds.KINDS]
    if args.namespaced is not None:
        want = args.namespaced == "true"
        resources = [r for r in resources if r.namespaced == want]
    resources = sorted(resources, key=lambda r: (r.api_version.rpartition("/")[0], r.name))
    if args.output == "name":
        for r in resources:
            group = r.api_version.rpartition("/")[0]
            cli.print(f"{r.name}.{group}" if group else r.name)
        return 0
    rows = [[r.name, ",".join(r.short_names), r.api_version,
             "true" if r.namespaced else "false", r.kind] for r in resources]
    hdr = None if args.no_headers else ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    cli.out.write(table.render(hdr, rows))
    return 0
