"""The `corral top` verb: CPU and memory use of pods or nodes."""

from __future__ import annotations

import argparse

from corral.cli.common import Cli, CliError
from corral.cli.misc.verbparser import verb_parser
from corral.printers import table
from proto import kinds
from proto.columns.humanize import format_bytes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = verb_parser(sub, parents, "top", "show CPU and memory use of pods or nodes",
                    "  corral top nodes\n  corral top pods -A\n  corral top pod web --containers\n")
    p.add_argument("resource", choices=("pods", "pod", "po", "nodes", "node", "no"))
    p.add_argument("name", nargs="?", default="")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--containers", action="store_true", help="a row per container")
    p.add_argument("--no-headers", action="store_true")
    p.set_defaults(func=run_top)


def _cpu(nano: int) -> str:
    return f"{nano // 1_000_000}m"


def run_top(cli: Cli, args: argparse.Namespace) -> int:
    resource = kinds.lookup(args.resource).resource
    if resource == "nodes":
        resp = cli.client.top("nodes", "", args.name)
        rows = []
        for n in sorted(resp.nodes, key=lambda x: x.name):
            cpu_pct = (n.cpu_usage_nano_cores / (n.cpu_capacity_cores * 1e9) * 100
                       if n.cpu_capacity_cores else 0)
            mem_pct = (n.memory_working_set_bytes / n.memory_capacity_bytes * 100
                       if n.memory_capacity_bytes else 0)
            rows.append([n.name, _cpu(n.cpu_usage_nano_cores), f"{int(cpu_pct)}%",
                         format_bytes(n.memory_working_set_bytes), f"{int(mem_pct)}%"])
        if not rows:
            raise CliError("metrics not available yet")
        hdr = ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
        cli.out.write(table.render(None if args.no_headers else hdr, rows))
        return 0
    ns = "" if args.all_namespaces else cli.namespace
    presp = cli.client.top("pods", ns, args.name)
    rows = []
    for p in sorted(presp.pods, key=lambda x: (x.namespace, x.name)):
        lead = [p.namespace] if args.all_namespaces else []
        if args.containers:
            for c in p.containers:
                rows.append([*lead, p.name, c.name, _cpu(c.cpu_usage_nano_cores),
                             format_bytes(c.memory_working_set_bytes)])
        else:
            cpu = sum(c.cpu_usage_nano_cores for c in p.containers)
            mem = sum(c.memory_working_set_bytes for c in p.containers)
            rows.append([*lead, p.name, _cpu(cpu), format_bytes(mem)])
    if not rows:
        if args.name:
            raise CliError(f'pod "{args.name}" has no metrics yet')
        cli.err.write(f"No resources found in {ns} namespace.\n" if ns else
                      "No resources found\n")
        return 0
    hdr = (["NAMESPACE"] if args.all_namespaces else []) + ["NAME"] + \
        (["NAME"] if args.containers else []) + ["CPU(cores)", "MEMORY(bytes)"]
    if args.containers:
        hdr[-4] = "POD"
    cli.out.write(table.render(None if args.no_headers else hdr, rows))
    return 0
