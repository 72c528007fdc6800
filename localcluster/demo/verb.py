"""The `corral demo` verb: the catalogue of demos, listing them and running them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from corral.cli.common import Cli
from localcluster.demo.failures import crash_loop, oom
from localcluster.demo.healing import node_failure, self_healing
from localcluster.demo.rollout import rolling_update, scaling
from localcluster.demo.runner import run_demo
from localcluster.demo.script import Demo
from localcluster.demo.service import service
from localcluster.target import pick, require_root

DEMOS: dict[str, Callable[[], Demo]] = {
    "self-healing": self_healing,
    "node-failure": node_failure,
    "scaling": scaling,
    "rolling-update": rolling_update,
    "oom": oom,
    "crash-loop": crash_loop,
    "service": service,
}


# -- the verb -------------------------------------------------------------------------------------

DEMO_HELP = """\
examples:
  corral demo ls
  corral demo self-healing
  corral demo rolling-update --pace 3     # pause 3 s between steps, for an audience
  corral demo node-failure --keep         # keep namespace demo-node-failure afterwards
  corral demo all                         # every demo, one after the other
"""


def register(sub: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", parents=parents, epilog=DEMO_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="run a narrated demo on a local cluster (corral demo ls)",
                       description="Run a narrated, scripted demo on an existing local cluster.")
    p.add_argument("demo", metavar="NAME", help="a demo (corral demo ls), or all")
    p.add_argument("--name", default=None, help="cluster (default: the only one)")
    p.add_argument("--pace", type=float, default=0.0, metavar="SECONDS",
                   help="pause between steps, for live presentations (default 0)")
    p.add_argument("--keep", action="store_true",
                   help="keep the demo's namespace and objects at the end")
    p.set_defaults(func=cmd_demo)


def cmd_demo(cli: Cli, args: argparse.Namespace) -> int:
    if args.demo in ("ls", "list"):
        cli.print(f"{'NAME':<16}WHAT")
        for name, make in DEMOS.items():
            cli.print(f"{name:<16}{make().title}")
        return 0
    names = list(DEMOS) if args.demo == "all" else [args.demo]
    for name in names:
        if name not in DEMOS:
            cli.error(f'unknown demo "{name}": one of {", ".join(DEMOS)} (corral demo ls)')
            return 1
    if args.pace < 0:
        cli.error("--pace must be 0 or more seconds")
        return 1
    require_root()          # the chaos verbs need it
    rec = pick(args.name)
    flag = ["--name", args.name] if args.name else []
    failed = [n for n in names
              if not run_demo(DEMOS[n](), rec, cli.out, cluster_flag=flag, pace=args.pace,
                              keep=args.keep, config_path=getattr(args, "config", None),
                              context=getattr(args, "context", None) or "")]
    if failed:
        cli.error(f"demo(s) failed: {', '.join(failed)}")
        return 1
    return 0
