"""`corral cluster ...` and `corral chaos ...`: the local cluster's verbs.

Run by the `corral-cluster` and `corral-chaos` commands (localcluster.main), which
`corral cluster|chaos` runs as plugins; the demos run the chaos verbs in process.
"""

from __future__ import annotations

import argparse
from typing import Any

from corral import config
from corral.cli.common import Cli
from localcluster import addnode, chaos, controlplanes, down, hachaos, procs, state, up
from localcluster.target import pick, require_root

DEFAULT_NAME = "corral"

CLUSTER_HELP = """\
examples:
  corral cluster up                       # 3 nodes, demo timings
  corral cluster up --name dev --nodes 2 --profile default
  corral cluster up --name ha --control-planes 3   # highly available: 3 members, 3 etcds
  corral cluster add-controlplane --name ha        # one more member joins
  corral cluster remove-controlplane cp-4 --name ha
  corral cluster ls
  corral cluster add-node --name dev      # one more node, Ready when it returns
  corral cluster down --name dev
"""

CHAOS_HELP = """\
examples:
  corral chaos kill-container web-5d8f7c9b6-x2kq4
  corral chaos kill-agent node-2          # containers keep running
  corral chaos kill-node node-2           # agent and containers
  corral chaos partition node-3 ; corral chaos heal node-3
  corral chaos stop-etcd 10
  corral chaos kill-controlplane leader   # with --control-planes 3: the loops move
  corral chaos kill-etcd-member etcd-leader
  corral chaos partition-controlplane cp-2 ; corral chaos heal-controlplane cp-2
"""


def register(sub: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    c = sub.add_parser("cluster", help="create and delete local clusters on this machine",
                       epilog=CLUSTER_HELP, formatter_class=fmt)
    csub = c.add_subparsers(dest="cluster_verb", metavar="VERB")
    p = csub.add_parser("up", help="create a local cluster", epilog=CLUSTER_HELP,
                        formatter_class=fmt)
    p.add_argument("--name", default=DEFAULT_NAME, help="cluster name (default corral)")
    p.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    p.add_argument("--profile", default="demo", choices=("demo", "default"),
                   help="timing profile (default demo: failover in seconds)")
    p.add_argument("--timeout", type=float, default=90.0,
                   help="seconds to wait for the nodes to be Ready")
    p.add_argument("--control-planes", type=int, default=1, metavar="N",
                   help="control-plane members (1, 3, 5 or 7; default 1): each in its own "
                        "namespace with its own etcd member, one etcd cluster")
    p.set_defaults(func=cmd_up)
    controlplanes_verbs(csub, fmt)
    p = csub.add_parser("down", help="delete a local cluster and everything it made",
                        epilog="example:\n  corral cluster down --name dev\n", formatter_class=fmt)
    p.add_argument("--name", default=DEFAULT_NAME)
    p.set_defaults(func=cmd_down)
    p = csub.add_parser("add-node", help="add a node to a local cluster",
                        epilog="example:\n  corral cluster add-node --name dev\n",
                        formatter_class=fmt)
    p.add_argument("--name", default=None, help="the cluster (default: the only one)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for the node to be Ready")
    p.set_defaults(func=cmd_add_node)
    p = csub.add_parser("ls", help="list local clusters",
                        epilog="example:\n  corral cluster ls\n", formatter_class=fmt)
    p.set_defaults(func=cmd_ls)
    c.set_defaults(func=lambda cli, args: _usage(c))

    ch = sub.add_parser("chaos", help="break something on a local cluster and watch it heal",
                        epilog=CHAOS_HELP, formatter_class=fmt)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--name", default=None, help="cluster (default: the only one)")
    common.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for convergence (default 120)")
    parents = [*parents, common]
    hsub = ch.add_subparsers(dest="chaos_verb", metavar="VERB")
    for verb, what, arg in (
        ("kill-container", "SIGKILL the containers of a pod", "POD"),
        ("kill-node", "SIGKILL a node's agent and all its containers", "NODE"),
        ("restart-agent", "start a killed node's agent again", "NODE"),
        ("partition", "cut a node's network link", "NODE"),
        ("heal", "restore a node's network link", "NODE"),
    ):
        p = hsub.add_parser(verb, help=what, parents=parents, formatter_class=fmt,
                            epilog=f"example:\n  corral chaos {verb} "
                                   f"{'web-5d8f7c9b6-x2kq4' if arg == 'POD' else 'node-2'}\n")
        p.add_argument("target", metavar=arg)
        p.set_defaults(func=cmd_chaos, chaos_verb=verb)
    p = hsub.add_parser("kill-agent", parents=parents, formatter_class=fmt,
                        epilog="examples:\n  corral chaos kill-agent node-2\n"
                               "  corral chaos kill-agent node-2 --no-restart\n",
                        help="SIGKILL a node's agent and restart it (containers keep running)")
    p.add_argument("target", metavar="NODE")
    p.add_argument("--restart-after", type=float, default=1.0, metavar="SECONDS",
                   help="restart the agent after this long, like systemd (default 1)")
    p.add_argument("--no-restart", action="store_true", help="leave the agent dead")
    p.set_defaults(func=cmd_chaos, chaos_verb="kill-agent")
    hachaos_verbs(hsub, parents, fmt)
    p = hsub.add_parser("stop-etcd", help="freeze etcd for SECONDS", parents=parents,
                        formatter_class=fmt, epilog="example:\n  corral chaos stop-etcd 10\n")
    p.add_argument("seconds", type=float)
    p.set_defaults(func=cmd_chaos, chaos_verb="stop-etcd")
    ch.set_defaults(func=lambda cli, args: _usage(ch))


def controlplanes_verbs(csub: argparse._SubParsersAction[Any],
                        fmt: type[argparse.HelpFormatter]) -> None:
    p = csub.add_parser("add-controlplane", formatter_class=fmt,
                        help="add a control-plane member to a highly available local cluster",
                        epilog="example:\n  corral cluster add-controlplane --name ha\n")
    p.add_argument("--name", default=None, help="the cluster (default: the only one)")
    p.add_argument("--timeout", type=float, default=90.0,
                   help="seconds to wait for it to be a voting, serving member")
    p.set_defaults(func=cmd_add_controlplane)
    p = csub.add_parser("remove-controlplane", formatter_class=fmt,
                        help="remove a control-plane member (etcd first, then its process)",
                        epilog="example:\n  corral cluster remove-controlplane cp-3\n")
    p.add_argument("member", metavar="MEMBER")
    p.add_argument("--name", default=None, help="the cluster (default: the only one)")
    p.set_defaults(func=cmd_remove_controlplane)


def hachaos_verbs(hsub: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser],
                  fmt: type[argparse.HelpFormatter]) -> None:
    for verb, what in (
        ("kill-controlplane", "SIGKILL a member's control plane (its etcd dies with it); "
                              "restarted after --restart-after s"),
        ("restart-controlplane", "start a killed member's control plane again"),
        ("kill-etcd-member", "SIGKILL a member's etcd (its control plane restarts it)"),
        ("partition-controlplane", "cut a member off from the other members"),
        ("heal-controlplane", "undo partition-controlplane"),
    ):
        p = hsub.add_parser(verb, help=what, parents=parents, formatter_class=fmt,
                            epilog=f"examples:\n  corral chaos {verb} cp-2\n"
                                   f"  corral chaos {verb} leader\n")
        p.add_argument("target", metavar="MEMBER",
                       help="cp-<k>, <k>, leader (the loops') or etcd-leader")
        if verb == "kill-controlplane":
            p.add_argument("--restart-after", type=float, default=1.0, metavar="SECONDS",
                           help="restart it after this long, like systemd (default 1)")
            p.add_argument("--no-restart", action="store_true", help="leave it dead")
        p.set_defaults(func=cmd_hachaos, chaos_verb=verb)


def cmd_add_controlplane(cli: Cli, args: argparse.Namespace) -> int:
    require_root()
    rec = pick(args.name)
    try:
        controlplanes.add(rec, up.join_token(rec), cli.print, timeout=args.timeout)
    except (ValueError, RuntimeError) as e:
        cli.error(str(e))
        return 1
    write_context(rec)
    return 0


def cmd_remove_controlplane(cli: Cli, args: argparse.Namespace) -> int:
    require_root()
    rec = pick(args.name)
    try:
        controlplanes.remove(rec, args.member, cli.print)
    except ValueError as e:
        cli.error(str(e))
        return 1
    write_context(rec)
    return 0


def cmd_hachaos(cli: Cli, args: argparse.Namespace) -> int:
    require_root()
    rec = pick(args.name)
    verb = args.chaos_verb
    cli.print(f"chaos {verb} {args.target}")
    try:
        m = hachaos.member(rec, args.target)
        everyone = {x.name for x in rec.controlplanes
                    if procs.alive(x.pid) or x is m}          # what can be healthy
        leader = _loops_leader(rec)
        if verb == "kill-controlplane":
            restart = None if args.no_restart else args.restart_after
            took = hachaos.run(
                rec, lambda: hachaos.kill_controlplane(rec, m, restart, cli.print), cli.print,
                healthy=everyone if restart is not None else everyone - {m.name},
                timeout=args.timeout, avoid_leader=m.name if leader == m.name else "",
                comeback_after=None if restart is None else restart + hachaos.lease_ttl(rec))
        elif verb == "partition-controlplane":
            took = hachaos.run(rec, lambda: hachaos.partition(rec, m), cli.print,
                               healthy=everyone - {m.name}, timeout=args.timeout,
                               avoid_leader=m.name)
        else:
            act = {"restart-controlplane": lambda: hachaos.restart_controlplane(rec, m),
                   "kill-etcd-member": lambda: hachaos.kill_etcd_member(rec, m),
                   "heal-controlplane": lambda: hachaos.partition(rec, m, heal=True)}[verb]
            took = hachaos.run(rec, act, cli.print, healthy=everyone, timeout=args.timeout)
    except chaos.ChaosError as e:
        cli.error(str(e))
        return 1
    return 0 if took is not None else 1


def _loops_leader(rec: state.ClusterRecord) -> str:
    try:
        return hachaos.member(rec, "leader").name
    except chaos.ChaosError:
        return ""


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 1


def cmd_up(cli: Cli, args: argparse.Namespace) -> int:
    require_root()
    members = f", {args.control_planes} control-plane members" if args.control_planes > 1 \
        else ""
    cli.print(f'Creating cluster "{args.name}" ({args.nodes} nodes{members}, profile '
              f'{args.profile}) ...')
    try:
        rec = up.up(args.name, args.nodes, args.profile, cli.print, timeout=args.timeout,
                    control_planes=args.control_planes)
    except Exception as e:    # whatever failed, undo what was made
        cli.error(str(e) or repr(e))
        if state.load(args.name) is not None and not isinstance(e, ValueError):
            cli.print(f"cleaning up: corral cluster down --name {args.name}")
            down.down(args.name, cli.print)
        return 1
    write_context(rec)
    cli.print(f'Set context "corral-{rec.name}". Try: corral get nodes -o wide')
    return 0


def cmd_down(cli: Cli, args: argparse.Namespace) -> int:
    require_root()
    if not down.down(args.name, cli.print):
        cli.error(f'cluster "{args.name}" not found')
        return 1
    remove_context(args.name)
    return 0


def cmd_add_node(cli: Cli, args: argparse.Namespace) -> int:
    require_root()
    rec = pick(args.name)
    try:
        addnode.add_node(rec, cli.print, timeout=args.timeout)
    except (ValueError, RuntimeError) as e:
        cli.error(str(e))
        return 1
    return 0


def cmd_ls(cli: Cli, args: argparse.Namespace) -> int:
    rows = state.all_clusters()
    if not rows:
        cli.print("No local clusters.")
        return 0
    cli.print(f"{'NAME':<12}{'NODES':<7}{'PROFILE':<9}SERVER")
    for r in rows:
        cli.print(f"{r.name:<12}{len(r.nodes):<7}{r.profile:<9}{r.server}")
    return 0


def cmd_chaos(cli: Cli, args: argparse.Namespace) -> int:
    require_root()
    rec = pick(args.name)
    verb, target = args.chaos_verb, getattr(args, "target", "")
    actions = {
        "kill-container": lambda: chaos.kill_container(rec, target, cli.namespace),
        "kill-agent": lambda: chaos.kill_agent(
            rec, target, None if args.no_restart else args.restart_after, cli.print),
        "kill-node": lambda: chaos.kill_node(rec, target),
        "restart-agent": lambda: chaos.restart_agent(rec, target),
        "partition": lambda: chaos.partition(rec, target),
        "heal": lambda: chaos.partition(rec, target, heal=True),
        "stop-etcd": lambda: chaos.stop_etcd(rec, args.seconds, cli.print),
    }
    cli.print(f"chaos {verb} {target}".rstrip())
    try:
        quick = verb in ("kill-agent", "restart-agent", "heal", "stop-etcd")   # may never diverge
        lost = frozenset({target}) if verb in ("kill-node", "partition") else frozenset()
        took = chaos.run(rec, actions[verb], cli.print, timeout=args.timeout,
                         diverge_within=3.0 if quick else 15.0, lost_nodes=lost)
    except chaos.ChaosError as e:
        cli.error(str(e))
        return 1
    return 0 if took is not None else 1


def write_context(rec: state.ClusterRecord) -> None:
    """The context `corral-<name>`: the server and the admin's TLS material, inline
    (from the control plane's admin.conf), so `corral get nodes` works at once."""
    cfg = config.load()
    name = f"corral-{rec.name}"
    ctx = config.Context(name=name, server=rec.server, namespace="default",
                         kubernetes_server=rec.kube_server)
    admin_path = up.admin_config_path(rec)
    if admin_path.exists():
        admin = config.load(admin_path).context()
        ctx.certificate_authority_data = admin.certificate_authority_data
        ctx.client_certificate_data = admin.client_certificate_data
        ctx.client_key_data = admin.client_key_data
    cfg.contexts[name] = ctx
    cfg.current_context = name
    cfg.save()


def remove_context(cluster: str) -> None:
    cfg = config.load()
    name = f"corral-{cluster}"
    if cfg.contexts.pop(name, None) is not None:
        if cfg.current_context == name:
            cfg.current_context = next(iter(cfg.contexts), "")
        cfg.save()
