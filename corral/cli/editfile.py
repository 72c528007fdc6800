"""The file `corral edit` hands to the editor: kubectl's header, the errors of the last
try on top, the objects as YAML or JSON; and running the editor on it.

    text = render([doc], "yaml", errors=["spec.replicas: Invalid value: -1 ..."])
    body = strip_comments(text)          # what the user left, without '#' lines
    run_editor(path)                     # $KUBE_EDITOR, $EDITOR or vi
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from typing import Any

import yaml

from corral.printers.output import to_json, to_yaml

HEADER = """\
# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
"""


class EditorError(Exception):
    """The editor could not run or exited with an error."""


def as_document(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """One object as it is; several as a v1 List (as kubectl edits them)."""
    if len(docs) == 1:
        return docs[0]
    return {"apiVersion": "v1", "kind": "List", "items": docs, "metadata": {}}


def render(docs: list[dict[str, Any]], fmt: str, errors: list[str] | None = None,
           body: str | None = None) -> str:
    """The file's text: the header, the errors of the last try, then `body` (what the
    user wrote last time) or the objects."""
    text = HEADER
    if errors:
        text += "".join(f"# {line}\n" if line else "#\n" for e in errors
                        for line in e.splitlines()) + "#\n"
    return text + (dump(docs, fmt) if body is None else body)


def dump(docs: list[dict[str, Any]], fmt: str) -> str:
    doc = as_document(docs)
    return to_json(doc) if fmt == "json" else to_yaml(doc)


def strip_comments(text: str) -> str:
    """The text without the lines that start with '#' (the header and the errors)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.lstrip().startswith("#"))


def parse(body: str, fmt: str) -> list[dict[str, Any]]:
    """The edited objects (a List's items); ValueError on a syntax error."""
    try:
        doc = json.loads(body) if fmt == "json" else yaml.safe_load(body)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"The edited file had a syntax error: {e}") from None
    if not isinstance(doc, dict):
        raise ValueError("The edited file had a syntax error: expected an object at the top")
    if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        items = doc["items"]
        if not all(isinstance(i, dict) for i in items):
            raise ValueError("The edited file had a syntax error: every item must be an object")
        return list(items)
    return [doc]


def editor() -> list[str]:
    """kubectl's choice: $KUBE_EDITOR, then $EDITOR, then vi; split like a shell line."""
    text = os.environ.get("KUBE_EDITOR") or os.environ.get("EDITOR") or "vi"
    try:
        argv = shlex.split(text)
    except ValueError:
        return ["sh", "-c", text + ' "$1"', "sh"]
    return argv or ["vi"]


def run_editor(path: str) -> None:
    argv = editor()
    try:
        rc = subprocess.call([*argv, path])
    except OSError as e:
        raise EditorError(f'there was a problem with the editor "{argv[0]}": '
                          f"{e.strerror}") from None
    if rc != 0:
        raise EditorError(f'there was a problem with the editor "{" ".join(argv)}"')
