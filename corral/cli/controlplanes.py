"""`corral controlplane ls|remove`: the members of a highly available control plane.

    corral controlplane ls            # name, etcd health and role, the loops' leader, addresses
    corral controlplane ls -o json
    corral controlplane remove cp-3   # etcd member remove; the member's control plane stops

Adding a member is starting one: `corral token create --control-plane` prints the
`corral-controlplane --join ...` command for the new machine. Admins only.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from google.protobuf import json_format

from corral.cli.common import Cli, CliError
from corral.printers import table
from proto import membership_pb2

HELP = """\
examples:
  corral controlplane ls
  corral controlplane remove cp-3      # then stop it and empty its data dir
  corral token create --control-plane  # the command that adds a member
"""


def register(sub: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    c = sub.add_parser("controlplane", aliases=["controlplanes"], parents=parents,
                       help="list and remove the members of a highly available control plane",
                       epilog=HELP, formatter_class=fmt)
    csub = c.add_subparsers(dest="controlplane_verb", metavar="VERB")
    p = csub.add_parser("ls", aliases=["list"], parents=parents, formatter_class=fmt,
                        help="list the members, their etcd health and who leads",
                        epilog="examples:\n  corral controlplane ls\n  corral controlplane "
                               "ls -o json\n")
    p.add_argument("-o", "--output", choices=("wide", "json", "yaml"), default="")
    p.set_defaults(func=cmd_ls)
    p = csub.add_parser("remove", aliases=["rm"], parents=parents, formatter_class=fmt,
                        help="remove a member from etcd (its control plane then stops)",
                        epilog="example:\n  corral controlplane remove cp-3\n")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_remove)
    c.set_defaults(func=lambda cli, args: _usage(c))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 1


def status_of(m: membership_pb2.ControlPlaneMember) -> str:
    if m.learner:
        return "Joining"
    return "Healthy" if m.healthy else "Unhealthy"


def roles_of(m: membership_pb2.ControlPlaneMember) -> str:
    roles = [r for r, on in (("etcd-leader", m.etcd_leader), ("loops-leader", m.loops_leader))
             if on]
    return ",".join(roles) or "<none>"


def rows(lst: membership_pb2.ControlPlaneList, wide: bool) -> list[list[str]]:
    out = []
    for m in lst.items:
        row = [m.name or f"<{m.etcd_id:x}>", status_of(m), roles_of(m), m.api_address or "<none>"]
        if wide:
            row += [m.kube_address or "<none>", m.etcd_url or "<none>", m.peer_url,
                    f"{m.etcd_id:x}", str(m.raft_index), m.error or ""]
        out.append(row)
    return out


def cmd_ls(cli: Cli, args: argparse.Namespace) -> int:
    lst = cli.client.list_controlplanes()
    if args.output in ("json", "yaml"):
        doc = json_format.MessageToDict(lst)
        if args.output == "json":
            cli.out.write(json.dumps(doc, indent=2) + "\n")
        else:
            from corral.printers.output import to_yaml
            cli.out.write(to_yaml(doc))
        return 0
    headers = ["NAME", "STATUS", "ROLES", "API"]
    if args.output == "wide":
        headers += ["KUBERNETES-API", "ETCD", "PEER", "ETCD-ID", "RAFT-INDEX", "ERROR"]
    cli.out.write(table.render(headers, rows(lst, args.output == "wide")))
    return 0


def cmd_remove(cli: Cli, args: argparse.Namespace) -> int:
    resp = cli.client.remove_controlplane(args.name)
    if not resp.remaining:
        raise CliError("the cluster answered with no remaining member")
    cli.print(f'control-plane member "{args.name}" removed from etcd; '
              f"{len(resp.remaining)} remain: {', '.join(m.name for m in resp.remaining)}")
    cli.print("Next: stop corral-controlplane on that machine (it stops by itself once its "
              "etcd member is gone), empty its data dir, and take its address out of the "
              "clients' server lists")
    return 0
