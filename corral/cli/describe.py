"""`corral describe`: an object in sections, with its Events."""

from __future__ import annotations

import argparse

from corral import errors
from corral.cli.common import Cli, meta_of, not_found, parse_targets
from corral.printers.describe import Related, describe
from proto import api_pb2, core_pb2, kinds

EXAMPLES = """\
examples:
  corral describe pod web                  # one pod, with its events
  corral describe deploy/web               # TYPE/NAME form
  corral describe nodes                    # every node
  corral describe pods -l app=web          # pods matching a selector
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("describe", parents=parents, help="show details of resources",
                       description="Show details of a resource or group of resources.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME]")
    p.add_argument("-l", "--selector", default="", metavar="SELECTOR")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--show-events", default="true", choices=("true", "false"),
                   help="show the object's events (default true)")
    p.set_defaults(func=run)


def events_for(cli: Cli, obj: api_pb2.Object) -> list[core_pb2.Event]:
    k = kinds.of(obj)
    meta = meta_of(obj)
    try:
        lst = cli.client.list("events", meta.namespace if k.namespaced else "")
    except errors.ClientError:
        return []
    out = []
    for item in lst.items:
        ref = item.event.involved_object
        if ref.name != meta.name or (ref.kind and ref.kind != k.kind):
            continue
        if ref.uid and meta.uid and ref.uid != meta.uid:
            continue
        if k.namespaced and ref.namespace and ref.namespace != meta.namespace:
            continue
        out.append(item.event)
    return out


def _owned(items: list[api_pb2.Object], uid: str) -> list[api_pb2.Object]:
    return [o for o in items if any(r.uid == uid for r in meta_of(o).owner_references)]


def related(cli: Cli, obj: api_pb2.Object, show_events: bool = True) -> Related:
    rel = Related(events=events_for(cli, obj) if show_events else [])
    k = kinds.of(obj)
    meta = meta_of(obj)
    try:
        if k.resource == "deployments":
            rs = cli.client.list("replicasets", meta.namespace)
            rel.replica_sets = [o.replica_set for o in _owned(list(rs.items), meta.uid)]
        elif k.resource in ("replicasets", "jobs", "daemonsets", "statefulsets"):
            pods = cli.client.list("pods", meta.namespace)
            rel.pods = [o.pod for o in _owned(list(pods.items), meta.uid)]
        elif k.resource == "services":
            slices = cli.client.list("endpointslices", meta.namespace,
                                     f"kubernetes.io/service-name={meta.name}")
            rel.endpoint_slices = [o.endpoint_slice for o in slices.items]
        elif k.resource == "cronjobs":
            jobs = cli.client.list("jobs", meta.namespace)
            rel.jobs = [o.job for o in _owned(list(jobs.items), meta.uid)]
        elif k.resource == "persistentvolumeclaims":
            pods = cli.client.list("pods", meta.namespace)
            rel.pods = [o.pod for o in pods.items if any(
                v.persistent_volume_claim.claim_name == meta.name for v in o.pod.spec.volumes)]
        elif k.resource == "nodes":
            pods = cli.client.list("pods", "", field_selector=f"spec.nodeName={meta.name}")
            rel.pods = [o.pod for o in pods.items]
    except errors.ClientError:
        pass
    return rel


def run(cli: Cli, args: argparse.Namespace) -> int:
    targets = parse_targets(args.resources, "describe")
    namespace = "" if args.all_namespaces else cli.namespace
    show_events = args.show_events == "true"
    first = True
    found_any = False
    for t in targets:
        objs: list[api_pb2.Object] = []
        if t.names:
            for name in t.names:
                try:
                    objs.append(cli.client.get(t.kind.resource, name, namespace))
                except errors.NotFound:
                    cli.server_error(not_found(t.kind, name))
        else:
            objs = list(cli.client.list(t.kind.resource, namespace, args.selector).items)
        for obj in objs:
            found_any = True
            if not first:
                cli.print("\n")
            first = False
            cli.out.write(describe(obj, related(cli, obj, show_events)))
            cli.out.flush()
    if not found_any and not cli.failed:
        where = f" in {namespace} namespace" if namespace and any(
            t.kind.namespaced for t in targets) else ""
        cli.err.write(f"No resources found{where}.\n")
    return 1 if cli.failed else 0
