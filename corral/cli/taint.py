"""`corral taint nodes NODE KEY[=VALUE]:EFFECT ... | KEY[:EFFECT]-`: add, overwrite and
remove node taints, as kubectl does (the scheduler keeps pods without a matching
toleration off; NoExecute also evicts them)."""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass

from corral.cli.common import Cli, CliError, lookup_kind, meta_of, mutate
from proto import api_pb2, core_pb2

EXAMPLES = """\
examples:
  corral taint nodes node-1 dedicated=db:NoSchedule
  corral taint nodes node-1 dedicated=web:NoSchedule --overwrite
  corral taint nodes node-1 dedicated:NoSchedule-    # remove the taint with this effect
  corral taint nodes node-1 dedicated-               # remove every taint with this key
  corral taint nodes -l disk=ssd maintenance:NoExecute
"""

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                  r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("taint", parents=parents, help="update the taints on one or more nodes",
                       description="Update the taints on one or more nodes.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("args", nargs="+", metavar="NODE|nodes NAME KEY=VAL:EFFECT | KEY[:EFFECT]-")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a taint with the same key and effect")
    p.add_argument("-l", "--selector", default="", metavar="SELECTOR")
    p.add_argument("--all", action="store_true", help="every node")
    p.set_defaults(func=run, intermixed="args")


@dataclass(frozen=True)
class Spec:
    key: str
    value: str
    effect: str      # "" in a removal: every effect


def _check(key: str, effect: str, text: str) -> None:
    if not _KEY.match(key):
        raise CliError(f"invalid taint spec: {text}, invalid key {key!r}")
    if effect and effect not in EFFECTS:
        raise CliError(f"invalid taint spec: {text}, invalid taint effect: {effect}, "
                       f"unsupported taint effect (one of {', '.join(EFFECTS)})")


def parse_specs(items: list[str]) -> tuple[list[Spec], list[Spec]]:
    """(taints to add, taints to remove) of `KEY[=VALUE]:EFFECT` and `KEY[:EFFECT]-`."""
    add: list[Spec] = []
    remove: list[Spec] = []
    for text in items:
        if text.endswith("-"):
            key, _, effect = text[:-1].partition(":")
            _check(key, effect, text)
            remove.append(Spec(key, "", effect))
            continue
        head, sep, effect = text.rpartition(":")
        if not sep or not effect:
            raise CliError(f"invalid taint spec: {text}, expected KEY[=VALUE]:EFFECT")
        key, _, value = head.partition("=")
        _check(key, effect, text)
        add.append(Spec(key, value, effect))
    for s in add:
        if sum(1 for t in add if (t.key, t.effect) == (s.key, s.effect)) > 1:
            raise CliError(f"can not add the same taint twice: {s.key}:{s.effect}")
        if any(r.key == s.key and r.effect in ("", s.effect) for r in remove):
            raise CliError(f"can not both modify and remove the taint {s.key}:{s.effect}")
    return add, remove


def taint(node: core_pb2.Node, add: list[Spec], remove: list[Spec], overwrite: bool) -> str:
    """Change the node's taints in place; kubectl's word for it: tainted, untainted,
    modified (a taint's value overwritten), or "" when nothing changed."""
    taints = node.spec.taints
    before = [(t.key, t.value, t.effect) for t in taints]
    for r in remove:
        keep = [t for t in taints if not (t.key == r.key and r.effect in ("", t.effect))]
        if len(keep) == len(taints):
            what = f"{r.key}:{r.effect}" if r.effect else r.key
            raise CliError(f'taint "{what}" not found')
        kept = [core_pb2.Taint() for _ in keep]
        for copy, t in zip(kept, keep, strict=True):
            copy.CopyFrom(t)
        del taints[:]
        taints.extend(kept)
    modified = False
    for a in add:
        same = [t for t in taints if (t.key, t.effect) == (a.key, a.effect)]
        if same and not overwrite:
            raise CliError(f"node {node.metadata.name} already has {a.key} taint(s) with same "
                           "effect(s) and --overwrite is false")
        for t in same:
            modified = modified or t.value != a.value
            t.value = a.value
        if not same:
            t = taints.add(key=a.key, value=a.value, effect=a.effect)
            if a.effect == "NoExecute":
                t.time_added.FromSeconds(int(time.time()))
    if before == [(t.key, t.value, t.effect) for t in taints]:
        return ""
    return "modified" if modified else "untainted" if remove and not add else "tainted"


def _nodes(cli: Cli, args: argparse.Namespace, positional: list[str]) -> list[str]:
    names: list[str] = []
    if positional and "/" not in positional[0]:
        if lookup_kind(positional[0]).resource != "nodes":
            raise CliError(f"invalid resource type {positional[0]}, only node types are "
                           "supported")
        positional = positional[1:]
    for ref in positional:
        type_, sep, name = ref.partition("/")
        if sep and lookup_kind(type_).resource != "nodes":
            raise CliError(f"invalid resource type {type_}, only node types are supported")
        names.append(name if sep else ref)
    if args.selector or args.all:
        names += [meta_of(o).name for o in cli.client.list("nodes", "", args.selector).items]
    if not names:
        raise CliError("at least one node is required: NODE, -l SELECTOR or --all")
    return names


def run(cli: Cli, args: argparse.Namespace) -> int:
    positional = [a for a in args.args if ":" not in a and not a.endswith("-")
                  and "=" not in a]
    specs = [a for a in args.args if a not in positional]
    if not specs:
        raise CliError("at least one taint update is required")
    add, remove = parse_specs(specs)
    for name in _nodes(cli, args, positional):
        words: list[str] = []

        def change(obj: api_pb2.Object, words: list[str] = words) -> bool:
            words[:] = [taint(obj.node, add, remove, args.overwrite)]
            return bool(words[0])

        mutate(cli, "nodes", name, "", change)
        cli.print(f"node/{name} {words[0] or 'not tainted'}")
    return 0
