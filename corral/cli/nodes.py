"""`corral cordon | uncordon | drain NODE`."""

from __future__ import annotations

import argparse

from corral import errors
from corral.cli.common import Cli, CliError, duration_arg, meta_of, mutate
from corral.cli.delete import wait_for_deletion
from proto import api_pb2, kinds

EXAMPLES = """\
examples:
  corral cordon node-1                     # no new pods on node-1
  corral uncordon node-1
  corral drain node-1                      # cordon, then evict its pods
  corral drain node-1 --force              # also pods no controller will replace
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    for verb, func, help_ in (("cordon", run_cordon, "mark nodes as unschedulable"),
                              ("uncordon", run_uncordon, "mark nodes as schedulable"),
                              ("drain", run_drain, "drain a node in preparation for maintenance")):
        p = sub.add_parser(verb, parents=parents, help=help_,
                           description=help_.capitalize() + ".", epilog=EXAMPLES,
                           formatter_class=fmt)
        p.add_argument("nodes", nargs="+", metavar="NODE")
        if verb == "drain":
            p.add_argument("--force", action="store_true",
                           help="also delete pods that declare no controller")
            p.add_argument("--grace-period", type=int, default=-1, metavar="SECONDS",
                           help="seconds given to each pod to stop (-1: the pod's own)")
            p.add_argument("--timeout", type=duration_arg, default=0.0, metavar="DURATION",
                           help="give up after this long (0: never)")
            p.add_argument("--ignore-daemonsets", action="store_true",
                           help="leave DaemonSet-managed pods (their DaemonSet would put them "
                                "back at once)")
            p.add_argument("--delete-emptydir-data", action="store_true",
                           help="accepted for kubectl compatibility")
            p.add_argument("--dry-run", nargs="?", const="server", default="none",
                           choices=("none", "server", "client"))
        p.set_defaults(func=func)


def _node_name(ref: str) -> str:
    if "/" in ref:
        type_, _, name = ref.partition("/")
        if kinds.lookup(type_).resource != "nodes":
            raise CliError(f"{ref} is not a node")
        return name
    return ref


def set_unschedulable(cli: Cli, name: str, value: bool) -> bool:
    """True if the node changed."""

    def change(obj: api_pb2.Object) -> bool:
        if obj.node.spec.unschedulable == value:
            return False
        obj.node.spec.unschedulable = value
        return True

    return mutate(cli, "nodes", name, "", change) is not None


def _cordon(cli: Cli, args: argparse.Namespace, value: bool) -> int:
    word = "cordoned" if value else "uncordoned"
    for ref in args.nodes:
        name = _node_name(ref)
        try:
            changed = set_unschedulable(cli, name, value)
        except errors.ClientError as e:
            cli.server_error(e)
            continue
        cli.print(f"node/{name} {word}" if changed else f"node/{name} already {word}")
    return 1 if cli.failed else 0


def run_cordon(cli: Cli, args: argparse.Namespace) -> int:
    return _cordon(cli, args, True)


def run_uncordon(cli: Cli, args: argparse.Namespace) -> int:
    return _cordon(cli, args, False)


def _has_controller(pod: api_pb2.Object) -> bool:
    return any(r.HasField("controller") and r.controller for r in meta_of(pod).owner_references)


def _daemon(pod: api_pb2.Object) -> bool:
    return any(r.controller and r.kind == "DaemonSet" for r in meta_of(pod).owner_references)


def run_drain(cli: Cli, args: argparse.Namespace) -> int:
    dry = args.dry_run != "none"
    for ref in args.nodes:
        name = _node_name(ref)
        if dry:
            cli.print(f"node/{name} cordoned (dry run)")
        else:
            changed = set_unschedulable(cli, name, True)
            cli.print(f"node/{name} cordoned" if changed else f"node/{name} already cordoned")
        pods = list(cli.client.list("pods", "", field_selector=f"spec.nodeName={name}").items)
        daemons = [p for p in pods if _daemon(p)]
        if daemons:
            names = ", ".join(f"{meta_of(p).namespace}/{meta_of(p).name}" for p in daemons)
            if not args.ignore_daemonsets:
                cli.error(f'unable to drain node "{name}" due to error: cannot delete '
                          "DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
                          f"{names}")
                cli.err.write(f"There are pending nodes to be drained:\n {name}\n")
                continue
            cli.err.write(f"Warning: ignoring DaemonSet-managed Pods: {names}\n")
            pods = [p for p in pods if not _daemon(p)]
        unmanaged = [p for p in pods if not _has_controller(p)]
        if unmanaged:
            names = ", ".join(f"{meta_of(p).namespace}/{meta_of(p).name}" for p in unmanaged)
            if not args.force:
                cli.error(f'unable to drain node "{name}" due to error: cannot delete Pods that '
                          f"declare no controller (use --force to override): {names}")
                cli.err.write(f"There are pending nodes to be drained:\n {name}\n")
                continue
            cli.err.write(f"Warning: deleting Pods that declare no controller: {names}\n")
        evicted: list[api_pb2.Object] = []
        for p in pods:
            m = meta_of(p)
            cli.print(f"evicting pod {m.namespace}/{m.name}" + (" (dry run)" if dry else ""))
            if dry:
                continue
            try:
                cli.client.delete("pods", m.name, m.namespace,
                                  grace_period_seconds=args.grace_period
                                  if args.grace_period >= 0 else None)
            except errors.NotFound:
                pass
            except errors.ClientError as e:
                cli.server_error(e)
                continue
            evicted.append(p)
        ok = True
        for p in evicted:
            if not wait_for_deletion(cli, kinds.lookup("pods"), [p], args.timeout):
                ok = False
                break
            cli.print(f"pod/{meta_of(p).name} evicted")
        if ok:
            cli.print(f"node/{name} drained" + (" (dry run)" if dry else ""))
    return 1 if cli.failed else 0
