"""`corral rollout ...`, `corral scale` and `corral set image`: working with deployments."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from corral import errors
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
"""

SCALE_EXAMPLES = """\
examples:
  corral scale deploy/web --replicas=3
  corral scale rs web-6f7c9 --replicas=0
"""

SET_EXAMPLES = """\
examples:
  corral set image deploy/web web=nginx:1.27   # container web
  corral set image deploy/web '*=busybox:1.36' # every container
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("rollout", parents=parents, help="manage the rollout of a deployment",
                       description="Manage the rollout of a deployment.",
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
        sp.add_argument("resources", nargs="+", metavar="deploy/NAME")
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

    p = sub.add_parser("scale", parents=parents, help="set a new size for a deployment or "
                       "replica set", description="Set a new size for a deployment or replica set.",
                       epilog=SCALE_EXAMPLES, formatter_class=fmt)
    p.add_argument("resources", nargs="+", metavar="TYPE/NAME")
    p.add_argument("--replicas", type=int, required=True, metavar="N")
    p.add_argument("--current-replicas", type=int, default=-1, metavar="N",
                   help="precondition: scale only if the current size is N")
    p.set_defaults(func=run_scale)

    p = sub.add_parser("set", parents=parents, help="set specific features on objects",
                       description="Set specific features on objects.", epilog=SET_EXAMPLES,
                       formatter_class=fmt)
    ssub = p.add_subparsers(dest="set_verb", metavar="SUBCOMMAND", required=True)
    sp = ssub.add_parser("image", parents=parents, help="update the image of containers",
                         description="Update the image of a pod template's containers.",
                         epilog=SET_EXAMPLES, formatter_class=fmt)
    sp.add_argument("resource", metavar="TYPE/NAME")
    sp.add_argument("images", nargs="+", metavar="CONTAINER=IMAGE")
    sp.set_defaults(func=run_set_image)


def _deployment(args: list[str], verb: str) -> str:
    kind, name = one_target(args, verb)
    if kind.resource != "deployments":
        raise CliError(f"no {verb} support for {columns.qualified_resource(kind)}; "
                       "only deployments are supported")
    return name


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
    name = _deployment(args.resources, "rollout status")
    ns = cli.namespace
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    obj = cli.client.get("deployments", name, ns)
    last = ""
    while True:
        msg, done = rollout_message(obj.deployment)
        if msg != last:
            cli.print(msg)
            last = msg
        if done or args.watch == "false":
            return 0
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise CliError("timed out waiting for the condition")
        stream = cli.client.watch("deployments", ns, field_selector=f"metadata.name={name}",
                                  resource_version=meta_of(obj).resource_version,
                                  timeout=remaining)
        try:
            for ev in stream:
                if ev.type == "DELETED":
                    raise CliError(f'deployment "{name}" was deleted')
                if ev.type in ("ADDED", "MODIFIED"):
                    obj = ev.object
                    msg, done = rollout_message(obj.deployment)
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
        obj = cli.client.get("deployments", name, ns)


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
    name = _deployment(args.resources, "rollout history")
    d = cli.client.get("deployments", name, cli.namespace)
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
    name = _deployment(args.resources, "rollout undo")
    d = cli.client.get("deployments", name, cli.namespace)
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
    name = _deployment(args.resources, "rollout restart")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def change(obj: api_pb2.Object) -> bool:
        if obj.deployment.spec.paused:
            raise CliError("can't restart paused deployment (run rollout resume first)")
        obj.deployment.spec.template.metadata.annotations[RESTARTED_AT] = now
        return True

    mutate(cli, "deployments", name, cli.namespace, change)
    cli.print(f"deployment.apps/{name} restarted")
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


def run_scale(cli: Cli, args: argparse.Namespace) -> int:
    if args.replicas < 0:
        raise CliError("The --replicas=COUNT flag is required, and COUNT must be greater than "
                       "or equal to 0")
    kind, name = one_target(args.resources, "scale")
    if kind.resource not in ("deployments", "replicasets"):
        raise CliError(f"cannot scale {columns.qualified_resource(kind)}")

    def change(obj: api_pb2.Object) -> bool:
        spec = obj.deployment.spec if kind.resource == "deployments" else obj.replica_set.spec
        current = spec.replicas if spec.HasField("replicas") else 1
        if args.current_replicas >= 0 and current != args.current_replicas:
            raise CliError(f"Expected replicas to be {args.current_replicas}, was {current}")
        spec.replicas = args.replicas
        return True

    mutate(cli, kind.resource, name, cli.namespace, change)
    cli.print(f"{columns.qualified_kind(kind)}/{name} scaled")
    return 0


def run_set_image(cli: Cli, args: argparse.Namespace) -> int:
    kind, name = one_target([args.resource], "set image")
    if kind.resource not in ("deployments", "replicasets", "pods"):
        raise CliError(f"cannot set the image of {columns.qualified_resource(kind)}")
    wanted: dict[str, str] = {}
    for spec in args.images:
        cname, sep, image = spec.partition("=")
        if not sep or not cname or not image:
            raise CliError(f"expected CONTAINER=IMAGE, got {spec!r}")
        wanted[cname] = image

    def change(obj: api_pb2.Object) -> bool:
        msg = kinds.unwrap(obj)
        pod_spec = msg.spec if kind.resource == "pods" else msg.spec.template.spec  # type: ignore[attr-defined]
        names = {c.name for c in pod_spec.containers} | {c.name for c in pod_spec.init_containers}
        for cname in wanted:
            if cname != "*" and cname not in names:
                raise CliError(f'unable to find container named "{cname}"')
        changed = False
        for c in list(pod_spec.init_containers) + list(pod_spec.containers):
            image = wanted.get(c.name, wanted.get("*"))
            if image is not None and c.image != image:
                c.image = image
                changed = True
        return changed

    mutate(cli, kind.resource, name, cli.namespace, change)
    cli.print(f"{columns.qualified_kind(kind)}/{name} image updated")
    return 0
