"""`corral rollout ...`: the rollouts of deployments, daemon sets and stateful sets
(the latter two's status and history: revisions.py)."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from corral import errors
from corral.cli import revisions
from corral.cli.common import Cli, CliError, duration_arg, meta_of, mutate, one_target
from corral.printers.describe import Writer, revision
from corral.printers.describe.pod import containers_section
from corral.printers.describe.sections import map_section
from proto import api_pb2, apps_pb2, columns, core_pb2, kinds

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

ROLLOUT_EXAMPLES = """\
examples:
  corral rollout status deploy/web         # wait until the rollout is done
  corral rollout history deploy/web        # revisions
  corral rollout history deploy/web --revision=2
  corral rollout undo deploy/web           # back to the previous revision
  corral rollout undo deploy/web --to-revision=1
  corral rollout restart deploy/web        # new pods, same template
  corral rollout pause deploy/web
  corral rollout resume deploy/web
  corral rollout status ds/fluentd -n kube-system
  corral rollout undo sts/web --to-revision=1
"""

ROLLABLE = ("deployments", "daemonsets", "statefulsets")

def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("rollout", parents=parents, help="manage the rollout of a deployment, "
                       "daemon set or stateful set",
                       description="Manage the rollout of a deployment, daemon set or stateful "
                                   "set.",
                       epilog=ROLLOUT_EXAMPLES, formatter_class=fmt)
    rsub = p.add_subparsers(dest="rollout_verb", metavar="SUBCOMMAND", required=True)
    specs = (
        ("status", run_status, "watch the rollout until it completes"),
        ("history", run_history, "list the revisions"),
        ("undo", run_undo, "roll back to a previous revision"),
        ("restart", run_restart, "restart the pods with a rolling update"),
        ("pause", run_pause, "stop rolling out template changes"),
        ("resume", run_resume, "resume a paused deployment"),
    )
    for name, func, help_ in specs:
        sp = rsub.add_parser(name, parents=parents, help=help_,
                             description=help_.capitalize() + ".",
                             epilog=ROLLOUT_EXAMPLES, formatter_class=fmt)
        sp.add_argument("resources", nargs="+", metavar="TYPE/NAME")
        if name == "status":
            sp.add_argument("-w", "--watch", default="true", choices=("true", "false"),
                            nargs="?", const="true", help="wait for the rollout (default true)")
            sp.add_argument("--timeout", type=duration_arg, default=0.0, metavar="DURATION",
                            help="give up after this long (0: never)")
        if name == "history":
            sp.add_argument("--revision", type=int, default=0,
                            help="show the pod template of this revision")
        if name == "undo":
            sp.add_argument("--to-revision", type=int, default=0,
                            help="the revision to go back to (0: the previous one)")
        sp.set_defaults(func=func)


def _deployment(args: list[str], verb: str) -> str:
    kind, name = one_target(args, verb)
    if kind.resource != "deployments":
        raise CliError(f"no {verb} support for {columns.qualified_resource(kind)}; "
                       "only deployments are supported")
    return name


def _target(args: list[str], verb: str) -> tuple[kinds.Kind, str]:
    kind, name = one_target(args, verb)
    if kind.resource not in ROLLABLE:
        raise CliError(f"no {verb} support for {columns.qualified_resource(kind)}; "
                       "only deployments, daemonsets and statefulsets are supported")
    return kind, name


def status_message(obj: api_pb2.Object) -> tuple[str, bool]:
    which = obj.WhichOneof("kind")
    if which == "daemon_set":
        return revisions.ds_message(obj.daemon_set)
    if which == "stateful_set":
        return revisions.sts_message(obj.stateful_set)
    return rollout_message(obj.deployment)


def rollout_message(d: apps_pb2.Deployment) -> tuple[str, bool]:
    """kubectl's DeploymentStatusViewer: (message, done)."""
    name = d.metadata.name
    if d.metadata.generation <= d.status.observed_generation:
        for c in d.status.conditions:
            if c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded":
                raise CliError(f'deployment "{name}" exceeded its progress deadline')
        desired = d.spec.replicas if d.spec.HasField("replicas") else 1
        s = d.status
        if s.updated_replicas < desired:
            return (f'Waiting for deployment "{name}" rollout to finish: {s.updated_replicas} '
                    f"out of {desired} new replicas have been updated..."), False
        if s.replicas > s.updated_replicas:
            return (f'Waiting for deployment "{name}" rollout to finish: '
                    f"{s.replicas - s.updated_replicas} old replicas are pending "
                    "termination..."), False
        if s.available_replicas < s.updated_replicas:
            return (f'Waiting for deployment "{name}" rollout to finish: '
                    f"{s.available_replicas} of {s.updated_replicas} updated replicas are "
                    "available..."), False
        return f'deployment "{name}" successfully rolled out', True
    return "Waiting for deployment spec update to be observed...", False


def run_status(cli: Cli, args: argparse.Namespace) -> int:
    kind, name = _target(args.resources, "rollout status")
    ns = cli.namespace
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    obj = cli.client.get(kind.resource, name, ns)
    last = ""
    while True:
        msg, done = status_message(obj)
        if msg != last:
            cli.print(msg)
            last = msg
        if done or args.watch == "false":
            return 0
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise CliError("timed out waiting for the condition")
        stream = cli.client.watch(kind.resource, ns, field_selector=f"metadata.name={name}",
                                  resource_version=meta_of(obj).resource_version,
                                  timeout=remaining)
        try:
            for ev in stream:
                if ev.type == "DELETED":
                    raise CliError(f'{kind.singular} "{name}" was deleted')
                if ev.type in ("ADDED", "MODIFIED"):
                    obj = ev.object
                    msg, done = status_message(obj)
                    if msg != last:
                        cli.print(msg)
                        last = msg
                    if done:
                        stream.cancel()
                        return 0
        except errors.Timeout:
            raise CliError("timed out waiting for the condition") from None
        except errors.Gone:
            pass
        obj = cli.client.get(kind.resource, name, ns)


def replica_sets_of(cli: Cli, d: api_pb2.Object) -> list[apps_pb2.ReplicaSet]:
    meta = meta_of(d)
    lst = cli.client.list("replicasets", meta.namespace)
    out = []
    for o in lst.items:
        for ref in o.replica_set.metadata.owner_references:
            if ref.uid == meta.uid and (not ref.HasField("controller") or ref.controller):
                out.append(o.replica_set)
                break
    return sorted(out, key=lambda r: revision(r.metadata))


def run_history(cli: Cli, args: argparse.Namespace) -> int:
    kind, name = _target(args.resources, "rollout history")
    d = cli.client.get(kind.resource, name, cli.namespace)
    if kind.resource != "deployments":
        return revisions.history(cli, d, args.revision)
    rsets = [r for r in replica_sets_of(cli, d) if revision(r.metadata) > 0]
    if args.revision:
        for r in rsets:
            if revision(r.metadata) == args.revision:
                cli.print(f"deployment.apps/{name} with revision #{args.revision}")
                w = Writer()
                w.line(0, "Pod Template:")
                labels = dict(r.spec.template.metadata.labels)
                map_section(w, 1, "Labels", labels)
                if r.spec.template.metadata.annotations:
                    map_section(w, 1, "Annotations", r.spec.template.metadata.annotations, ": ")
                containers_section(w, 1, "Containers", r.spec.template.spec.containers, None)
                cli.out.write(w.render())
                return 0
        raise CliError(f"unable to find the specified revision {args.revision}")
    if not rsets:
        cli.print("No rollout history found.")
        return 0
    cli.print(f"deployment.apps/{name} ")
    rows = [[str(revision(r.metadata)), r.metadata.annotations.get(CHANGE_CAUSE, "<none>")]
            for r in rsets]
    from corral.printers import table

    cli.out.write(table.render(["REVISION", "CHANGE-CAUSE"], rows))
    cli.print()
    return 0


def _strip_hash(t: core_pb2.PodTemplateSpec) -> core_pb2.PodTemplateSpec:
    out = core_pb2.PodTemplateSpec()
    out.CopyFrom(t)
    out.metadata.labels.pop("pod-template-hash", None)
    return out


def run_undo(cli: Cli, args: argparse.Namespace) -> int:
    kind, name = _target(args.resources, "rollout undo")
    d = cli.client.get(kind.resource, name, cli.namespace)
    if kind.resource != "deployments":
        return revisions.undo(cli, d, args.to_revision)
    rsets = [r for r in replica_sets_of(cli, d) if revision(r.metadata) > 0]
    if not rsets:
        raise CliError(f'no rollout history found for deployment "{name}"')
    if args.to_revision:
        target = next((r for r in rsets if revision(r.metadata) == args.to_revision), None)
        if target is None:
            raise CliError(f"unable to find specified revision {args.to_revision} in history")
    else:
        if len(rsets) < 2:
            raise CliError(f'no rollout history found for deployment "{name}"')
        target = rsets[-2]
    template = _strip_hash(target.spec.template)
    rev = revision(target.metadata)
    if _strip_hash(d.deployment.spec.template) == template:
        cli.print(f"deployment.apps/{name} skipped rollback (current template already matches "
                  f"revision {rev})")
        return 0

    def change(obj: api_pb2.Object) -> bool:
        if obj.deployment.spec.paused:
            raise CliError(f'you cannot rollback a paused deployment; resume it first with '
                           f"'corral rollout resume deployment/{name}' and try again")
        obj.deployment.spec.template.CopyFrom(template)
        return True

    mutate(cli, "deployments", name, cli.namespace, change)
    cli.print(f"deployment.apps/{name} rolled back")
    return 0


def run_restart(cli: Cli, args: argparse.Namespace) -> int:
    kind, name = _target(args.resources, "rollout restart")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def change(obj: api_pb2.Object) -> bool:
        if kind.resource == "deployments" and obj.deployment.spec.paused:
            raise CliError("can't restart paused deployment (run rollout resume first)")
        spec = kinds.unwrap(obj).spec  # type: ignore[attr-defined]
        spec.template.metadata.annotations[RESTARTED_AT] = now
        return True

    mutate(cli, kind.resource, name, cli.namespace, change)
    cli.print(f"{columns.qualified_kind(kind)}/{name} restarted")
    return 0


def _set_paused(cli: Cli, args: argparse.Namespace, paused: bool) -> int:
    word = "paused" if paused else "resumed"
    name = _deployment(args.resources, "rollout " + ("pause" if paused else "resume"))

    def change(obj: api_pb2.Object) -> bool:
        if obj.deployment.spec.paused == paused:
            return False
        obj.deployment.spec.paused = paused
        return True

    if mutate(cli, "deployments", name, cli.namespace, change) is None:
        raise CliError(f'deployments.apps "{name}" is {"already" if paused else "not"} paused')
    cli.print(f"deployment.apps/{name} {word}")
    return 0


def run_pause(cli: Cli, args: argparse.Namespace) -> int:
    return _set_paused(cli, args, True)


def run_resume(cli: Cli, args: argparse.Namespace) -> int:
    return _set_paused(cli, args, False)
