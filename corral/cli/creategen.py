"""`corral create namespace|deployment|job|cronjob|token`: objects from flags, as kubectl's
generators make them (the manifests: corral/generators.py).

    corral create namespace demo
    corral create deployment web --image=demo:latest --replicas=3 --port=8080
    corral create job pi --image=demo -- sh -c 'echo 3.14'
    corral create job manual-1 --from=cronjob/tick
    corral create cronjob tick --image=demo --schedule='*/1 * * * *' -- date
    corral create token                  # a bootstrap token (see `corral token`)

Job and CronJob work once their kinds are in the kind table; before, they answer
kubectl's "the server doesn't have a resource type" and change nothing.
"""

from __future__ import annotations

import argparse

from corral import generators
from corral.cli.common import Cli, CliError, lookup_kind, ttl_seconds
from corral.cli.creating import command_tail, generator, kinds_of, send
from corral.generators import GeneratorError
from proto import codec


def register(create: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]) -> None:
    sub = kinds_of(create)
    p = generator(sub, "namespace", parents, "create a namespace with the specified name",
                  "  corral create namespace demo\n", aliases=("ns",))
    p.set_defaults(func=run_namespace)

    p = generator(sub, "deployment", parents, "create a deployment with the specified name",
                  "  corral create deployment web --image=demo:latest\n"
                  "  corral create deployment web --image=demo:latest --replicas=3 --port=8080\n"
                  "  corral create deployment web --image=demo -- httpd -f -p 8080\n"
                  "  corral create deployment web --image=demo --dry-run=client -o yaml\n",
                  aliases=("deploy",))
    p.add_argument("--image", action="append", default=[], metavar="IMAGE",
                   help="an image to run (repeatable: one container each)")
    p.add_argument("-r", "--replicas", type=int, default=1, help="the number of replicas")
    p.add_argument("--port", type=int, default=-1, help="the port the first container exposes")
    command_tail(p)
    p.set_defaults(func=run_deployment)

    p = generator(sub, "job", parents, "create a job with the specified name",
                  "  corral create job pi --image=demo -- sh -c 'echo 3.14'\n"
                  "  corral create job manual-1 --from=cronjob/tick\n")
    p.add_argument("--image", default="", help="the image of the job's container")
    p.add_argument("--from", dest="from_", default="", metavar="cronjob/NAME",
                   help="the CronJob whose job template to run")
    command_tail(p)
    p.set_defaults(func=run_job)

    p = generator(sub, "cronjob", parents, "create a cronjob with the specified name",
                  "  corral create cronjob tick --image=demo --schedule='*/1 * * * *' -- date\n",
                  aliases=("cj",))
    p.add_argument("--image", default="", help="the image of the job's container")
    p.add_argument("--schedule", default="", help="a schedule in the Cron format")
    p.add_argument("--restart", default="OnFailure", help="the job's restart policy "
                   "(OnFailure or Never)")
    command_tail(p)
    p.set_defaults(func=run_cronjob)

    p = sub.add_parser("token", parents=parents, help="create a bootstrap token for joining "
                       "nodes", description="Create a bootstrap token for joining nodes "
                       "(`corral token create` also prints the join command).",
                       epilog="examples:\n  corral create token\n"
                              "  corral create token --duration 1h\n",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("token", nargs="?", default="",
                   help="the token ([a-z0-9]{6}.[a-z0-9]{16}; default: random)")
    p.add_argument("--duration", default="24h", help="how long it can be used (e.g. 1h, 7d)")
    p.add_argument("--description", default="", help="a note shown by `corral token list`")
    p.set_defaults(func=run_token)


def _command(args: argparse.Namespace) -> list[str]:
    cmd = list(args.command)
    return cmd[1:] if cmd[:1] == ["--"] else cmd


def run_namespace(cli: Cli, args: argparse.Namespace) -> int:
    return send(cli, args, generators.namespace(args.name))


def run_deployment(cli: Cli, args: argparse.Namespace) -> int:
    try:
        doc = generators.deployment(args.name, args.image, replicas=args.replicas,
                                    port=args.port, command=_command(args))
    except GeneratorError as e:
        raise CliError(str(e)) from None
    return send(cli, args, doc)


def run_job(cli: Cli, args: argparse.Namespace) -> int:
    try:
        if args.from_:
            if args.image or _command(args):
                raise CliError("cannot specify --from and command")
            type_, _, name = args.from_.partition("/")
            if not name or lookup_kind(type_).kind != "CronJob":
                raise CliError(f"from must be an existing cronjob: {args.from_}")
            cron = cli.client.get("cronjobs", name, cli.namespace)
            doc = generators.job_from_cronjob(args.name, codec.encode(cron))
        else:
            doc = generators.job(args.name, args.image, _command(args))
    except GeneratorError as e:
        raise CliError(str(e)) from None
    return send(cli, args, doc)


def run_cronjob(cli: Cli, args: argparse.Namespace) -> int:
    try:
        doc = generators.cronjob(args.name, args.image, args.schedule, _command(args),
                                 args.restart)
    except GeneratorError as e:
        raise CliError(str(e)) from None
    return send(cli, args, doc)


def run_token(cli: Cli, args: argparse.Namespace) -> int:
    """As `kubectl create token`, the token alone on stdout (`corral token create` also
    prints the join command)."""
    ttl = ttl_seconds(args.duration, "--duration")
    t = cli.client.create_token(ttl_seconds=ttl, description=args.description,
                                token=args.token)
    cli.print(t.token)
    return 0
