"""`corral scale` and `corral set image`: the size and the images of workloads."""

from __future__ import annotations

import argparse

from corral.cli.common import Cli, CliError, mutate, one_target
from proto import api_pb2, columns, kinds

SCALE_EXAMPLES = """\
examples:
  corral scale deploy/web --replicas=3
  corral scale rs web-6f7c9 --replicas=0
  corral scale sts web --replicas=5        # ordered: web-3, then web-4
"""

SET_EXAMPLES = """\
examples:
  corral set image deploy/web web=nginx:1.27   # container web
  corral set image deploy/web '*=busybox:1.36' # every container
"""

SCALABLE = ("deployments", "replicasets", "statefulsets")
WITH_TEMPLATE = ("deployments", "replicasets", "daemonsets", "statefulsets")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("scale", parents=parents, help="set a new size for a deployment, replica "
                       "set or stateful set", description="Set a new size for a deployment, "
                       "replica set or stateful set.",
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


def run_scale(cli: Cli, args: argparse.Namespace) -> int:
    if args.replicas < 0:
        raise CliError("The --replicas=COUNT flag is required, and COUNT must be greater than "
                       "or equal to 0")
    kind, name = one_target(args.resources, "scale")
    if kind.resource not in SCALABLE:
        raise CliError(f"cannot scale {columns.qualified_resource(kind)}")

    def change(obj: api_pb2.Object) -> bool:
        spec = kinds.unwrap(obj).spec  # type: ignore[attr-defined]
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
    if kind.resource not in (*WITH_TEMPLATE, "pods"):
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
