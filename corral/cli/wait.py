"""`corral wait`: until objects reach a condition, as kubectl wait.

    corral wait --for=condition=complete job/pi --timeout=60s
    corral wait --for=condition=Ready pod -l app=web
    corral wait --for=delete pod/web-0 --timeout=30s
    corral wait --for=jsonpath='{.status.phase}'=Running pod/web-0

A condition's type matches whatever its case (`complete` is `Complete`), its status
is "True" unless given (`--for=condition=Ready=false`). Each object is watched (one
read, then its watch) until the deadline: "timed out waiting for the condition".
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from corral import errors
from corral.cli.common import Cli, CliError, duration_arg, meta_of, parse_targets
from corral.printers.jsonpath import render
from proto import api_pb2, codec, columns, kinds

Check = Callable[[api_pb2.Object | None], bool]

EXAMPLES = """\
examples:
  corral wait --for=condition=complete job/pi --timeout=60s
  corral wait --for=condition=Ready pod -l app=web
  corral wait --for=delete pod/web-0 --timeout=30s
  corral wait --for=jsonpath='{.status.phase}'=Running pod/web-0
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("wait", parents=parents, help="wait for a condition on resources",
                       description="Wait until objects reach a condition: a condition of their "
                                   "status, a value at a JSON path, or their deletion.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME]")
    p.add_argument("--for", dest="for_", required=True, metavar="CONDITION",
                   help="delete, condition=TYPE[=STATUS] or jsonpath='{PATH}'=VALUE")
    p.add_argument("--timeout", type=duration_arg, default=30.0, metavar="DURATION",
                   help="give up after this long (default 30s; 0: check once)")
    p.add_argument("-l", "--selector", default="", metavar="SELECTOR")
    p.add_argument("--all", action="store_true", help="every object of the type")
    p.set_defaults(func=run)


def checker(spec: str) -> tuple[Check, str]:
    """The test of `--for` and what it prints when met."""
    if spec == "delete":
        return (lambda obj: obj is None), "deleted"
    kind, _, rest = spec.partition("=")
    if kind == "condition" and rest:
        ctype, _, want = rest.partition("=")
        want = want or "True"

        def cond(obj: api_pb2.Object | None) -> bool:
            if obj is None:
                return False
            status = getattr(kinds.unwrap(obj), "status", None)
            for c in getattr(status, "conditions", ()):
                if c.type.lower() == ctype.lower():
                    return bool(c.status.lower() == want.lower())
            return False
        return cond, "condition met"
    if kind == "jsonpath" and rest:
        path, sep, want = rest.rpartition("=")
        if not sep or not path.startswith("{"):
            raise CliError(f"jsonpath wait format must be --for=jsonpath='{{.status.x}}'=value, "
                           f"got {spec!r}")

        def value(obj: api_pb2.Object | None) -> bool:
            return obj is not None and render(path, codec.encode(obj)) == want
        return value, "condition met"
    raise CliError(f"unrecognized condition: {spec!r} (delete, condition=TYPE[=STATUS] or "
                   "jsonpath='{PATH}'=VALUE)")


def wait_one(cli: Cli, resource: str, name: str, ok: Check, deadline: float) -> bool:
    ns = cli.namespace
    while True:
        try:
            obj: api_pb2.Object | None = cli.client.get(resource, name, ns)
        except errors.NotFound:
            obj = None
        if ok(obj):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        rv = meta_of(obj).resource_version if obj is not None else ""
        stream = cli.client.watch(resource, ns, field_selector=f"metadata.name={name}",
                                  resource_version=rv, timeout=left)
        try:
            for ev in stream:
                if ok(None if ev.type == "DELETED" else ev.object):
                    stream.cancel()
                    return True
        except (errors.Timeout, errors.Gone):
            pass


def run(cli: Cli, args: argparse.Namespace) -> int:
    ok, met = checker(args.for_)
    targets = parse_targets(args.resources, "wait")
    deadline = time.monotonic() + max(args.timeout, 0.0)
    for t in targets:
        names = list(t.names)
        if not names:
            if not (args.selector or args.all):
                raise CliError("resource(s) were provided, but no name was specified")
            items = cli.client.list(t.kind.resource, cli.namespace, args.selector).items
            names = [meta_of(o).name for o in items]
            if not names:
                raise CliError("no matching resources found")
        for name in names:
            what = f"{columns.qualified_kind(t.kind)}/{name}"
            if not wait_one(cli, t.kind.resource, name, ok, deadline):
                raise CliError(f"timed out waiting for the condition on {t.kind.resource}/{name}")
            cli.print(f"{what} {met}")
    return 0
