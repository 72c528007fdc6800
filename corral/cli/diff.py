"""`corral diff -f FILE`: what `corral apply -f FILE` would change, as a unified diff of the
live objects against what apply's three-way merge (corral/applying.py; --server-side:
server-side apply) would make of them, sent as a dry run: nothing is written. Exit 0:
no differences, 1: differences, 2 (more than 1): an error, as kubectl.

Each object is a file LIVE/<group>.<version>.<Kind>.<namespace>.<name> against
MERGED/<same>; $KUBECTL_EXTERNAL_DIFF (e.g. "diff -u -N --color") compares the two
directories instead of the built-in unified diff. Secret values are masked.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from corral import applying, errors, manifests
from corral.cli.apply import prepare
from corral.cli.common import Cli, CliError, meta_of
from corral.printers.output import to_yaml
from proto import api_pb2, codec, kinds
from proto.codec import DecodeError

EXAMPLES = """\
examples:
  corral diff -f manifests/web-deployment.yaml
  KUBECTL_EXTERNAL_DIFF="diff -u -N --color=always" corral diff -f manifests/
"""

# fields no one writes by hand: left out of both sides, as kubectl does
IGNORED_META = ("managedFields",)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("diff", parents=parents, help="diff the live version against what "
                       "apply would make", description="Diff the live objects against what "
                       "`corral apply -f` would make of them. Exit 1 when they differ.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-f", "--filename", action="append", default=[], metavar="FILE")
    p.add_argument("-R", "--recursive", action="store_true")
    p.add_argument("--server-side", action="store_true",
                   help="what a server-side apply would make (by field ownership)")
    p.add_argument("--force-conflicts", action="store_true",
                   help="with --server-side: as if taking over fields other managers own")
    p.add_argument("--field-manager", default="corral", metavar="NAME",
                   help="with --server-side: the manager's name (default %(default)s)")
    p.set_defaults(func=run)


def file_name(obj: api_pb2.Object) -> str:
    """kubectl's name of an object's file: apps.v1.Deployment.default.web."""
    k, m = kinds.of(obj), meta_of(obj)
    group, _, version = k.api_version.rpartition("/")
    parts = [group, version, k.kind, m.namespace, m.name] if group else \
        [version, k.kind, m.namespace, m.name]
    return ".".join(p for p in parts if p)


def _doc(obj: api_pb2.Object | None) -> dict[str, Any]:
    if obj is None:
        return {}
    doc: dict[str, Any] = codec.encode(obj)
    for key in IGNORED_META:
        doc.get("metadata", {}).pop(key, None)
    return doc


def mask_secrets(live: dict[str, Any], merged: dict[str, Any]) -> None:
    """Secret values as kubectl shows them: *** (same), *** (before) / *** (after)."""
    if "Secret" not in (live.get("kind"), merged.get("kind")):
        return
    for field in ("data", "stringData"):
        a, b = live.get(field), merged.get(field)
        for key in set(a or {}) | set(b or {}):
            same = (a or {}).get(key) == (b or {}).get(key)
            if a is not None and key in a:
                a[key] = "***" if same else "*** (before)"
            if b is not None and key in b:
                b[key] = "***" if same else "*** (after)"


def _text(doc: dict[str, Any]) -> str:
    return to_yaml(doc) if doc else ""


def _would_apply(cli: Cli, obj: api_pb2.Object, args: argparse.Namespace,
                 ) -> tuple[api_pb2.Object | None, api_pb2.Object]:
    """(the live object or None, what `corral apply` would make of it): the same three-way
    merge (or server-side apply), sent as a dry run — nothing is written."""
    k, m = kinds.of(obj), meta_of(obj)
    try:
        live: api_pb2.Object | None = cli.client.get(k.resource, m.name, m.namespace)
    except errors.NotFound:
        live = None
    if args.server_side:
        return live, applying.server_side(cli.client, obj, args.field_manager,
                                          force=args.force_conflicts, dry_run=True)
    merged, _ = applying.client_side(cli.client, obj, dry_run=True)
    return live, merged


def _pairs(cli: Cli, args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(file name, live text, merged text) of every object of the files."""
    out = []
    seen = 0
    for item in manifests.load(args.filename, args.recursive):
        seen += 1
        if isinstance(item, manifests.BadDocument):
            raise CliError(str(item))
        try:
            obj = prepare(cli, item.doc)
        except DecodeError as e:
            raise CliError(f"{item.where}: {e}") from None
        live, merged = _would_apply(cli, obj, args)
        a, b = _doc(live), _doc(merged)
        mask_secrets(a, b)
        out.append((file_name(merged), _text(a), _text(b)))
    if seen == 0:
        raise CliError("no objects passed to diff")
    return out


def _builtin(cli: Cli, pairs: list[tuple[str, str, str]], live: str, merged: str) -> bool:
    differ = False
    for name, a, b in pairs:
        if a == b:
            continue
        differ = True
        left, right = f"{live}/{name}", f"{merged}/{name}"
        cli.out.write(f"diff -u -N {left} {right}\n")
        cli.out.writelines(difflib.unified_diff(
            a.splitlines(keepends=True), b.splitlines(keepends=True), left, right))
    cli.out.flush()
    return differ


def _external(cli: Cli, program: str, pairs: list[tuple[str, str, str]]) -> int:
    with tempfile.TemporaryDirectory(prefix="corral-diff-") as tmp:
        live, merged = Path(tmp, "LIVE"), Path(tmp, "MERGED")
        live.mkdir()
        merged.mkdir()
        for name, a, b in pairs:
            (live / name).write_text(a)
            (merged / name).write_text(b)
        cli.out.flush()
        try:
            return subprocess.call([*shlex.split(program), str(live), str(merged)])
        except OSError as e:
            raise CliError(f"cannot run {program!r}: {e.strerror}") from None


def run(cli: Cli, args: argparse.Namespace) -> int:
    """0: the same, 1: different, 2: an error (kubectl's exit codes)."""
    if not args.filename:
        cli.error("must specify -f")
        return 2
    try:
        pairs = _pairs(cli, args)
        program = os.environ.get("KUBECTL_EXTERNAL_DIFF", "")
        if program:
            rc = _external(cli, program, pairs)
            return rc if rc in (0, 1) else 2
        tmp = tempfile.gettempdir()
        return 1 if _builtin(cli, pairs, f"{tmp}/LIVE", f"{tmp}/MERGED") else 0
    except errors.ClientError as e:
        cli.server_error(e)
    except (CliError, manifests.ManifestError) as e:
        cli.error(str(e))
    return 2
