"""`corral create job|cronjob NAME`, with kubectl's flags.

    corral create job pi --image=demo -- sh -c 'echo 3.14'
    corral create job manual-run --from=cronjob/hello      # one run of a CronJob, now
    corral create cronjob hello --image=demo --schedule='*/5 * * * *' -- date
"""

from __future__ import annotations

import argparse

from corral.cli.common import Cli, CliError, add_output_flag, lookup_kind
from corral.printers.output import make_printer
from proto import api_pb2, batch_pb2, core_pb2, meta_pb2

INSTANTIATE = "cronjob.kubernetes.io/instantiate"


def _kinds(create: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The `create KIND` subcommands (one set per parser: other kinds may add theirs)."""
    for action in create._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return create.add_subparsers(dest="create_kind", metavar="KIND", required=False,
                                 title="create from flags")


def register(create: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]) -> None:
    kinds = _kinds(create)
    job = kinds.add_parser("job", parents=parents, help="create a job with the specified name",
                           description="Create a job with the specified name, from an image "
                                       "or from a CronJob (--from=cronjob/NAME).")
    job.add_argument("name", metavar="NAME")
    job.add_argument("--image", default="", help="the image of the job's container")
    job.add_argument("--from", dest="from_", default="", metavar="cronjob/NAME",
                     help="run the job template of this CronJob")
    cron = kinds.add_parser("cronjob", parents=parents, aliases=["cj"],
                            help="create a cron job with the specified name",
                            description="Create a cron job with the specified name.")
    cron.add_argument("name", metavar="NAME")
    cron.add_argument("--image", required=True, help="the image of the job's container")
    cron.add_argument("--schedule", required=True, metavar="CRON",
                      help="when to run, in cron format: '*/1 * * * *'")
    cron.add_argument("--restart", default="OnFailure", choices=("OnFailure", "Never"),
                      help="the restart policy of the job's pods")
    for p, func in ((job, run_job), (cron, run_cronjob)):
        p.add_argument("command", nargs="*", metavar="-- COMMAND [ARGS...]")
        p.add_argument("--dry-run", nargs="?", const="server", default="none",
                       choices=("none", "server", "client"))
        add_output_flag(p)
        p.set_defaults(func=func)


def _template(name: str, image: str, command: list[str], restart: str
              ) -> core_pb2.PodTemplateSpec:
    t = core_pb2.PodTemplateSpec()
    c = t.spec.containers.add(name=name, image=image)
    c.command.extend(command)
    t.spec.restart_policy = restart
    return t


def _command(args: argparse.Namespace) -> list[str]:
    cmd = list(args.command)
    return cmd[1:] if cmd and cmd[0] == "--" else cmd


def job_from_cronjob(name: str, cj: batch_pb2.CronJob) -> batch_pb2.Job:
    """kubectl's `create job --from=cronjob/x`: the job template, annotated as a manual
    run and owned by the CronJob."""
    job = batch_pb2.Job(api_version="batch/v1", kind="Job")
    job.metadata.name = name
    job.metadata.namespace = cj.metadata.namespace
    job.metadata.labels.update(cj.spec.job_template.metadata.labels)
    job.metadata.annotations.update(cj.spec.job_template.metadata.annotations)
    job.metadata.annotations[INSTANTIATE] = "manual"
    job.metadata.owner_references.append(meta_pb2.OwnerReference(
        api_version="batch/v1", kind="CronJob", name=cj.metadata.name, uid=cj.metadata.uid,
        controller=True))
    job.spec.CopyFrom(cj.spec.job_template.spec)
    return job


def run_job(cli: Cli, args: argparse.Namespace) -> int:
    command = _command(args)
    if args.from_:
        if args.image or command:
            raise CliError("cannot specify --from and --image or a command at the same time")
        type_, _, source = args.from_.partition("/")
        if not source or lookup_kind(type_).resource != "cronjobs":
            raise CliError(f"from must be an existing cronjob: --from=cronjob/NAME, not "
                           f"{args.from_!r}")
        cj = cli.client.get("cronjobs", source, cli.namespace).cron_job
        job = job_from_cronjob(args.name, cj)
    else:
        if not args.image:
            raise CliError("--image or --from must be specified")
        job = batch_pb2.Job(api_version="batch/v1", kind="Job")
        job.metadata.name = args.name
        job.spec.template.CopyFrom(_template(args.name, args.image, command, "Never"))
    job.metadata.namespace = cli.namespace
    return _create(cli, args, api_pb2.Object(job=job), "job.batch")


def run_cronjob(cli: Cli, args: argparse.Namespace) -> int:
    cj = batch_pb2.CronJob(api_version="batch/v1", kind="CronJob")
    cj.metadata.name = args.name
    cj.metadata.namespace = cli.namespace
    cj.spec.schedule = args.schedule
    cj.spec.job_template.metadata.name = args.name
    cj.spec.job_template.spec.template.CopyFrom(
        _template(args.name, args.image, _command(args), args.restart))
    return _create(cli, args, api_pb2.Object(cron_job=cj), "cronjob.batch")


def _create(cli: Cli, args: argparse.Namespace, obj: api_pb2.Object, what: str) -> int:
    out = obj if args.dry_run == "client" else \
        cli.client.create(obj, dry_run=args.dry_run == "server")
    if args.output:
        cli.out.write(make_printer(args.output).print([out], single=True))
        return 0
    suffix = " (dry run)" if args.dry_run == "client" else \
        " (server dry run)" if args.dry_run == "server" else ""
    cli.print(f"{what}/{args.name} created{suffix}")
    return 0
