"""`corral patch TYPE NAME -p PATCH [--type strategic|merge|json]`: change fields of an
object in place, as kubectl does. The server applies the patch (the Patch RPC, the same
engine as the Kubernetes API's PATCH: proto/patch/), reading and writing with a
compare-and-swap; --dry-run=client applies it here with that engine, writing nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from corral import manifests
from corral.cli.apply import prepare
from corral.cli.common import Cli, CliError, meta_of, one_target
from corral.printers.output import make_printer
from proto import api_pb2, codec, columns, kinds
from proto.codec import DecodeError
from proto.patch import PatchError, apply_patch

EXAMPLES = """\
examples:
  corral patch deploy web -p '{"spec":{"replicas":2}}'           # strategic merge patch
  corral patch deploy/web -p '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"demo:v2"}]}}}}'
  corral patch pod web --type merge -p '{"metadata":{"labels":{"tier":null}}}'
  corral patch deploy web --type json -p '[{"op":"replace","path":"/spec/replicas","value":4}]'
  corral patch -f web.yaml -p 'spec: {replicas: 1}'              # YAML works too
  corral patch node node-1 -p '{"spec":{"unschedulable":true}}' --dry-run=client -o yaml
"""  # noqa: E501

TYPES = ("json", "merge", "strategic")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("patch", parents=parents, help="update fields of a resource",
                       description="Update fields of a resource with a strategic merge, "
                                   "JSON merge or JSON patch.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("resources", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    p.add_argument("-f", "--filename", default="", metavar="FILE",
                   help="the object a manifest names (its first document)")
    p.add_argument("-p", "--patch", default="", metavar="PATCH", help="the patch, JSON or YAML")
    p.add_argument("--patch-file", default="", metavar="FILE", help="the patch, from a file")
    p.add_argument("--type", default="strategic", metavar="TYPE",
                   help="strategic (default), merge or json")
    p.add_argument("--subresource", default="", choices=("", "status"),
                   help="patch the status instead")
    p.add_argument("--dry-run", nargs="?", const="server", default="none",
                   choices=("none", "server", "client"))
    p.add_argument("-o", "--output", default="", metavar="FORMAT", help="yaml|json|name|...")
    p.set_defaults(func=run, intermixed="resources")


def patch_body(args: argparse.Namespace) -> Any:
    """The patch as data: -p or --patch-file, JSON or YAML (kubectl's wording on error)."""
    if args.patch and args.patch_file:
        raise CliError("--patch and --patch-file are mutually exclusive")
    text = args.patch
    if args.patch_file:
        try:
            text = Path(args.patch_file).read_text()
        except OSError as e:
            raise CliError(f"unable to read patch file: {e.strerror}: {args.patch_file}") \
                from None
    if not text:
        raise CliError("must specify --patch or --patch-file containing the contents of the "
                       "patch")
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise CliError(f'unable to parse "{text}": {_first_line(e)}') from None
    if args.type == "json" and not isinstance(body, list):
        raise CliError(f'unable to parse "{text}": a JSON patch is a list of operations')
    if args.type != "json" and not isinstance(body, dict):
        raise CliError(f'unable to parse "{text}": a {args.type} patch is an object')
    return body


def _first_line(e: yaml.YAMLError) -> str:
    """kubectl's `yaml: line 1: did not find expected ',' or '}'`."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    return f"yaml: line {mark.line + 1}: {problem}" if mark is not None else f"yaml: {problem}"


def _target(cli: Cli, args: argparse.Namespace) -> tuple[kinds.Kind, str, str]:
    if args.filename:
        if args.resources:
            raise CliError("give either -f or TYPE NAME, not both")
        for item in manifests.load([args.filename], False):
            if isinstance(item, manifests.BadDocument):
                raise CliError(str(item))
            try:
                obj = prepare(cli, item.doc)
            except DecodeError as e:
                raise CliError(f"{item.where}: {e}") from None
            return kinds.of(obj), meta_of(obj).name, meta_of(obj).namespace
        raise CliError(f"no objects in {args.filename}")
    kind, name = one_target(args.resources, "patch")
    return kind, name, cli.namespace if kind.namespaced else ""


def _locally(cli: Cli, kind: kinds.Kind, name: str, ns: str, ptype: str,
             body: Any) -> api_pb2.Object:
    cur = cli.client.get(kind.resource, name, ns)
    try:
        doc = apply_patch(ptype, codec.encode(cur, precise=True, full=True), body,
                          kind.message.DESCRIPTOR)
        return codec.decode(doc)
    except (PatchError, DecodeError) as e:
        raise CliError(f"the patch cannot be applied: {e}") from None


def run(cli: Cli, args: argparse.Namespace) -> int:
    if args.type not in TYPES:
        raise CliError(f'--type must be one of [{" ".join(TYPES)}], not "{args.type}"')
    body = patch_body(args)
    kind, name, ns = _target(cli, args)
    before = cli.client.get(kind.resource, name, ns)
    if args.dry_run == "client":
        result = _locally(cli, kind, name, ns, args.type, body)
    else:
        result = cli.client.patch(kind.resource, name, ns, args.type, json.dumps(body),
                                  subresource=args.subresource,
                                  dry_run=args.dry_run == "server")
    if args.output:
        cli.out.write(make_printer(args.output).print([result], single=True))
        return 0
    same = codec.encode(result, precise=True, full=True) == \
        codec.encode(before, precise=True, full=True)
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")
    word = "patched (no change)" if same else "patched"
    cli.print(f"{columns.qualified_kind(kind)}/{name} {word}{suffix}")
    return 0
