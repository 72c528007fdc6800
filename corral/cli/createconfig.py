"""`corral create configmap` and `corral create secret generic|tls|docker-registry`,
with kubectl's flags; the objects are built by corral/configdata.py.

    corral create configmap game-config --from-file=configure-pod-container/configmap/
    corral create configmap special-config --from-literal=special.how=very
    corral create secret generic db-user-pass --from-literal=username=admin \\
        --from-file=password=./password.txt
    corral create secret tls my-tls --cert=tls.crt --key=tls.key
    corral create secret docker-registry regcred --docker-server=reg.example:5000 \\
        --docker-username=u --docker-password=p
"""

from __future__ import annotations

import argparse

from corral.cli.common import Cli, CliError, add_output_flag
from corral.cli.creating import kinds_of
from corral.configdata import (
    DOCKER_HUB,
    SourceError,
    Sources,
    configmap,
    docker_config_json,
    secret,
    tls_items,
)
from corral.printers.output import make_printer
from proto import api_pb2


def register(create: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]) -> None:
    """The kinds `corral create` builds from flags (beside `create -f`)."""
    sub = kinds_of(create)
    p = _parser(sub, "configmap", parents, "create a configmap from files, directories, "
                "env files or literal values", aliases=["cm"])
    _source_flags(p)
    p.set_defaults(func=run_configmap)

    sec = sub.add_parser("secret", parents=parents, help="create a secret",
                         description="Create a secret: generic, tls or docker-registry.")
    kinds = sec.add_subparsers(dest="secret_kind", metavar="TYPE", required=True)
    g = _parser(kinds, "generic", parents, "create a secret from files, directories, env "
                "files or literal values")
    _source_flags(g)
    g.add_argument("--type", default="", help="the Secret's type (default Opaque)")
    g.set_defaults(func=run_generic)
    t = _parser(kinds, "tls", parents, "create a TLS secret from a certificate and its key")
    t.add_argument("--cert", required=True, metavar="PATH", help="PEM certificate (chain)")
    t.add_argument("--key", required=True, metavar="PATH", help="PEM private key")
    t.set_defaults(func=run_tls)
    d = _parser(kinds, "docker-registry", parents, "create a secret for pulling images from "
                "a registry (imagePullSecrets)")
    d.add_argument("--docker-server", default=DOCKER_HUB, help="the registry (default "
                   "%(default)s)")
    d.add_argument("--docker-username", default="", help="user name for the registry")
    d.add_argument("--docker-password", default="", help="password for the registry")
    d.add_argument("--docker-email", default="", help="email for the registry")
    d.add_argument("--from-file", action="append", default=[], metavar="[KEY=]PATH",
                   help="a .dockerconfigjson file (key .dockerconfigjson)")
    d.set_defaults(func=run_docker_registry)


def _parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
            parents: list[argparse.ArgumentParser], help_: str,
            aliases: list[str] | None = None) -> argparse.ArgumentParser:
    p = sub.add_parser(name, parents=parents, help=help_, aliases=aliases or [],
                       description=help_[0].upper() + help_[1:] + ".")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--dry-run", nargs="?", const="server", default="none",
                   choices=("none", "server", "client"),
                   help="client: print the object without sending it; server: validate it "
                        "on the server without persisting it")
    add_output_flag(p)
    return p


def _source_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-literal", action="append", default=[], metavar="KEY=VALUE",
                   help="a key and its literal value; repeatable")
    p.add_argument("--from-file", action="append", default=[], metavar="[KEY=]PATH",
                   help="a file (its name is the key, or KEY=), or a directory (each of its "
                        "files); repeatable")
    p.add_argument("--from-env-file", action="append", default=[], metavar="PATH",
                   help="KEY=VALUE lines (blank lines and # comments skipped); repeatable")


def _gather(args: argparse.Namespace, kind: str) -> Sources:
    sources = Sources(kind, args.name)
    try:
        for f in args.from_file:
            sources.file(f)
        for lit in args.from_literal:
            sources.literal(lit)
        for e in args.from_env_file:
            sources.env_file(e)
    except SourceError as e:
        raise CliError(str(e)) from None
    return sources


def _send(cli: Cli, args: argparse.Namespace, obj: api_pb2.Object, word: str) -> int:
    if args.dry_run == "client":
        result = obj
    else:
        result = cli.client.create(obj, dry_run=args.dry_run == "server")
    if args.output:
        cli.out.write(make_printer(args.output).print([result], single=True))
        return 0
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")
    cli.print(f"{word}/{args.name} created{suffix}")
    return 0


def run_configmap(cli: Cli, args: argparse.Namespace) -> int:
    return _send(cli, args, configmap(args.name, cli.namespace, _gather(args, "ConfigMap")),
                 "configmap")


def run_generic(cli: Cli, args: argparse.Namespace) -> int:
    sources = _gather(args, "Secret")
    return _send(cli, args, secret(args.name, cli.namespace, sources.items, args.type),
                 "secret")


def run_tls(cli: Cli, args: argparse.Namespace) -> int:
    try:
        items = tls_items(args.cert, args.key)
    except SourceError as e:
        raise CliError(str(e)) from None
    return _send(cli, args, secret(args.name, cli.namespace, items, "kubernetes.io/tls"),
                 "secret")


def run_docker_registry(cli: Cli, args: argparse.Namespace) -> int:
    if args.from_file:
        sources = Sources("Secret", args.name)
        try:
            for f in args.from_file:
                sources.file(f if "=" in f else f".dockerconfigjson={f}")
        except SourceError as e:
            raise CliError(str(e)) from None
        items = sources.items
    else:
        if not (args.docker_username and args.docker_password and args.docker_server):
            raise CliError("either --from-file or the combination of --docker-username, "
                           "--docker-password and --docker-server is required")
        items = {".dockerconfigjson": docker_config_json(
            args.docker_server, args.docker_username, args.docker_password,
            args.docker_email)}
    return _send(cli, args, secret(args.name, cli.namespace, items,
                                   "kubernetes.io/dockerconfigjson"), "secret")
