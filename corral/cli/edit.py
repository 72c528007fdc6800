"""`corral edit TYPE NAME`: the object in $KUBE_EDITOR/$EDITOR, written back as kubectl does.

The change is an update with the resourceVersion that was read (compare-and-swap: if
someone else wrote meanwhile, nothing is overwritten). An object the server or the
codec finds invalid reopens the editor with the errors on top; saving the same text
again gives up. Whatever cannot be applied (a conflict, a deleted object) stays in the
temp file, named on stderr, for `corral replace -f`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

from corral import errors
from corral.cli import editfile
from corral.cli.common import Cli, CliError, kubectl_message, meta_of, parse_targets
from corral.cli.editfile import EditorError
from proto import api_pb2, codec, columns, kinds
from proto.codec import DecodeError

EXAMPLES = """\
examples:
  corral edit deploy/web                   # in $KUBE_EDITOR, $EDITOR or vi
  KUBE_EDITOR=nano corral edit pod web
  corral edit deploy web -o json           # edit the JSON form
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("edit", parents=parents, help="edit a resource on the server",
                       description="Edit a resource on the server in your editor "
                                   "($KUBE_EDITOR, $EDITOR, vi).",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("resources", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    p.add_argument("-o", "--output", default="yaml", choices=("yaml", "json"),
                   help="the format to edit in")
    p.set_defaults(func=run)


def _key(doc: dict[str, Any]) -> tuple[str, str, str]:
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    return str(doc.get("apiVersion", "")), str(doc.get("kind", "")), str(meta.get("name", ""))


def _fetch(cli: Cli, args: argparse.Namespace) -> list[api_pb2.Object]:
    objs: list[api_pb2.Object] = []
    for t in parse_targets(args.resources, "edit"):
        if t.names:
            objs.extend(cli.client.get(t.kind.resource, n, cli.namespace) for n in t.names)
        else:
            objs.extend(cli.client.list(t.kind.resource, cli.namespace).items)
    if not objs:
        raise CliError("no objects to edit")
    return objs


def _invalid(kind: str, name: str, message: str) -> str:
    try:
        what = columns.qualified_resource(kinds.lookup(kind))
    except kinds.UnknownKind:
        what = kind.lower()
    detail = message.split(" is invalid: ", 1)[-1]
    return f'{what} "{name}" was not valid:\n* {detail}'


class _Session:
    """One edit: the objects read, the temp file, what is left to apply."""

    def __init__(self, cli: Cli, objs: list[api_pb2.Object], fmt: str) -> None:
        self.cli = cli
        self.fmt = fmt
        self.originals = {_key(d): (o, d) for o, d in
                          ((o, codec.encode(o)) for o in objs)}
        fd, self.path = tempfile.mkstemp(prefix="corral-edit-", suffix="." + fmt)
        os.close(fd)
        self.edited_any = False

    def keep(self, message: str) -> int:
        """Cannot apply: say so and where the user's text stays."""
        self.cli.error(message)
        self.cli.err.write(f'A copy of your changes has been stored to "{self.path}"\n')
        return 1

    def done(self, rc: int = 0) -> int:
        os.unlink(self.path)
        if not self.edited_any and rc == 0:
            self.cli.print("Edit cancelled, no changes made.")
        return rc

    def run(self) -> int:
        docs = [d for _, d in self.originals.values()]
        problems: list[str] = []
        body: str | None = None
        while True:
            with open(self.path, "w") as f:
                f.write(editfile.render(docs, self.fmt, problems, body))
            try:
                editfile.run_editor(self.path)
            except EditorError as e:
                return self.keep(str(e))
            with open(self.path) as f:
                edited = editfile.strip_comments(f.read())
            if not edited.strip():
                return self.done()
            if body is not None and edited == body:
                return self.keep("Edit cancelled, no valid changes were saved.")
            try:
                new_docs = editfile.parse(edited, self.fmt)
            except ValueError as e:
                problems, body = [str(e)], edited
                continue
            problems, failed, rc = self._apply_all(new_docs)
            if rc is not None:
                return rc
            if not problems:
                return self.done()
            docs, body = failed, editfile.dump(failed, self.fmt)

    def _apply_all(self, new_docs: list[dict[str, Any]]
                   ) -> tuple[list[str], list[dict[str, Any]], int | None]:
        """Apply each edited object: (validation problems, the objects that had them,
        an exit code when something cannot be applied at all)."""
        problems: list[str] = []
        failed: list[dict[str, Any]] = []
        for doc in new_docs:
            key = _key(doc)
            if key not in self.originals:
                problems.append("At least one of apiVersion, kind and name was changed")
                failed.append(doc)
                continue
            old, old_doc = self.originals[key]
            if doc == old_doc:
                continue
            try:
                obj = codec.decode(doc)
                meta_of(obj).namespace = meta_of(old).namespace
                result = self.cli.client.update(obj)
            except DecodeError as e:
                problems.append(_invalid(key[1], key[2], str(e)))
                failed.append(doc)
                continue
            except errors.Invalid as e:
                problems.append(_invalid(key[1], key[2], e.message))
                failed.append(doc)
                continue
            except (errors.Unavailable, errors.Unauthenticated):
                raise
            except errors.ClientError as e:
                what = f'{columns.qualified_resource(kinds.of(old))} "{key[2]}"'
                return [], [], self.keep(
                    f"{what} could not be updated: {kubectl_message(e)}\nYou can run "
                    f"`corral replace -f {self.path}` to try this update again.")
            self.edited_any = True
            self.originals[key] = (result, codec.encode(result))
            self.cli.print(f"{columns.qualified_kind(kinds.of(result))}/{key[2]} edited")
        return problems, failed, None


def run(cli: Cli, args: argparse.Namespace) -> int:
    return _Session(cli, _fetch(cli, args), args.output).run()
