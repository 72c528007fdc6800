"""The `corral label` and `corral annotate` verbs: change an object's labels or
annotations."""

from __future__ import annotations

import argparse

from corral.cli.common import Cli, CliError, meta_of, mutate, parse_targets
from corral.cli.misc.verbparser import verb_parser
from proto import api_pb2, columns, kinds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    for verb, func in (("label", run_label), ("annotate", run_annotate)):
        what = "labels" if verb == "label" else "annotations"
        p = verb_parser(sub, parents, verb, f"update the {what} of a resource",
                        f"  corral {verb} pods web tier=frontend\n"
                        f"  corral {verb} --overwrite deploy/web tier=backend\n"
                        f"  corral {verb} pods web tier-            # remove\n")
        p.add_argument("args", nargs="+", metavar="TYPE NAME KEY=VAL | KEY-")
        p.add_argument("--overwrite", action="store_true", help="replace existing values")
        p.add_argument("-l", "--selector", default="", metavar="SELECTOR")
        p.add_argument("--all", action="store_true")
        p.add_argument("--list", action="store_true", help=f"print the {what}")
        p.set_defaults(func=func, meta_field=what, intermixed="args")


def _meta_changes(items: list[str], what: str) -> tuple[dict[str, str], list[str]]:
    sets: dict[str, str] = {}
    removes: list[str] = []
    for item in items:
        if item.endswith("-") and "=" not in item:
            removes.append(item[:-1])
        elif "=" in item:
            k, _, v = item.partition("=")
            if not k:
                raise CliError(f"invalid {what[:-1]} spec: {item}")
            sets[k] = v
        else:
            raise CliError(f"invalid {what[:-1]} spec: {item}, expected KEY=VALUE or KEY-")
    return sets, removes


def _run_meta(cli: Cli, args: argparse.Namespace, verb: str) -> int:
    what: str = args.meta_field
    positional = [a for a in args.args if "=" not in a and not a.endswith("-")]
    changes = [a for a in args.args if a not in positional]
    sets, removes = _meta_changes(changes, what)
    targets = parse_targets(positional, verb)
    objs: list[tuple[kinds.Kind, str, str]] = []
    for t in targets:
        if t.names:
            objs.extend((t.kind, n, cli.namespace) for n in t.names)
        elif args.selector or args.all:
            for o in cli.client.list(t.kind.resource, cli.namespace, args.selector).items:
                objs.append((t.kind, meta_of(o).name, meta_of(o).namespace))
        else:
            raise CliError("resource(s) were provided, but no name was specified")
    if args.list:
        for kind, name, ns in objs:
            m = getattr(meta_of(cli.client.get(kind.resource, name, ns)), what)
            cli.out.write("".join(f"{k}={v}\n" for k, v in sorted(m.items())))
        return 0
    if not sets and not removes:
        raise CliError(f"at least one {what[:-1]} update is required")
    for kind, name, ns in objs:
        missing: list[str] = []

        def change(obj: api_pb2.Object, missing: list[str] = missing) -> bool:
            m = getattr(meta_of(obj), what)
            for k, v in sets.items():
                if k in m and m[k] != v and not args.overwrite:
                    raise CliError(f"'{k}' already has a value ({m[k]}), and --overwrite is false")
            changed = False
            for k, v in sets.items():
                if m.get(k) != v:
                    m[k] = v
                    changed = True
            missing[:] = [k for k in removes if k not in m]
            for k in removes:
                if k in m:
                    del m[k]
                    changed = True
            return changed

        result = mutate(cli, kind.resource, name, ns, change)
        for k in missing:
            cli.err.write(f'{what[:-1]} "{k}" not found.\n')
        cli.print(f"{columns.qualified_kind(kind)}/{name} {_word(verb, result, sets)}")
    return 0


def _word(verb: str, result: api_pb2.Object | None, sets: dict[str, str]) -> str:
    """kubectl's: labeled, unlabeled (only removed), not labeled; annotated."""
    if verb == "annotate":
        return "annotated" if result is not None else "not annotated"
    if result is None:
        return "not labeled"
    return "labeled" if sets else "unlabeled"


def run_label(cli: Cli, args: argparse.Namespace) -> int:
    return _run_meta(cli, args, "label")


def run_annotate(cli: Cli, args: argparse.Namespace) -> int:
    return _run_meta(cli, args, "annotate")
