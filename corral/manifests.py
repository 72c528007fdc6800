"""Reading manifests: files, directories (-R) and stdin, multi-document YAML or JSON.

Each document comes back on its own, good or bad, so one broken document
does not stop the others: `load()` yields `Document`s (a parsed mapping) and
`BadDocument`s (why it could not be read, with file:line:column for YAML
syntax errors). Documents are split on `---` lines before parsing so that a
syntax error in one leaves the ones after it readable.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EXTENSIONS = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Document:
    source: str          # file name, or "STDIN"
    index: int           # 1-based position of the document in its file
    line: int            # 1-based line where the document starts
    doc: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.source}: document {self.index}"


@dataclass(frozen=True)
class BadDocument:
    source: str
    index: int
    line: int
    column: int
    message: str

    @property
    def where(self) -> str:
        loc = f"{self.source}:{self.line}:{self.column}" if self.column else \
            f"{self.source}:{self.line}"
        return f"{loc}: document {self.index}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ManifestError(Exception):
    """A path that cannot be read at all (missing file, not a manifest)."""


_SEPARATOR = re.compile(r"^---(\s.*)?$")
_END = re.compile(r"^\.\.\.\s*$")


def split_documents(text: str) -> list[tuple[int, str]]:
    """[(first line number (1-based), text)] for each `---`-separated document."""
    docs: list[tuple[int, str]] = []
    cur: list[str] = []
    start = 1
    for i, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.rstrip("\r\n")
        if _SEPARATOR.match(stripped):
            if cur:
                docs.append((start, "".join(cur)))
            rest = stripped[3:].strip()
            cur = [rest + "\n"] if rest else []
            start = i if rest else i + 1
        elif _END.match(stripped):
            docs.append((start, "".join(cur)))
            cur = []
            start = i + 1
        else:
            cur.append(line)
    if cur:
        docs.append((start, "".join(cur)))
    return docs


def _is_blank(text: str) -> bool:
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines())


def parse_text(text: str, source: str) -> Iterator[Document | BadDocument]:
    """Every document of one file; `kind: List` documents are expanded into their items."""
    if source.endswith(".json") or text.lstrip().startswith(("{", "[")):
        pieces = [(1, text)]
    else:
        pieces = split_documents(text)
    index = 0
    for start, piece in pieces:
        if _is_blank(piece):
            continue
        index += 1
        try:
            doc = yaml.safe_load(piece)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            problem = getattr(e, "problem", None) or str(e)
            context = getattr(e, "context", None)
            msg = f"{context}: {problem}" if context else str(problem)
            line = start + mark.line if mark is not None else start
            col = mark.column + 1 if mark is not None else 0
            yield BadDocument(source, index, line, col, f"YAML syntax error: {msg}")
            continue
        except RecursionError:
            yield BadDocument(source, index, start, 0,
                              "YAML nested too deeply (more levels than any manifest needs)")
            continue
        if doc is None:
            index -= 1
            continue
        if not isinstance(doc, dict):
            yield BadDocument(source, index, start, 0,
                              f"expected a mapping (apiVersion, kind, metadata, ...), "
                              f"got a {_type_name(doc)}")
            continue
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for j, item in enumerate(doc["items"]):
                if isinstance(item, dict):
                    yield Document(source, index, start, item)
                else:
                    yield BadDocument(source, index, start, 0,
                                      f"items[{j}]: expected a mapping, got a {_type_name(item)}")
            continue
        yield Document(source, index, start, doc)


def _type_name(v: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number",
            bool: "boolean"}.get(type(v), type(v).__name__)


def expand_paths(paths: list[str], recursive: bool = False) -> list[str]:
    """Files named by -f: files as given, directories' manifest files sorted, '-' for stdin."""
    out: list[str] = []
    for p in paths:
        if p == "-":
            out.append(p)
            continue
        path = Path(p)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            files = sorted(f for f in path.glob(pattern)
                           if f.is_file() and f.suffix in EXTENSIONS)
            out.extend(str(f) for f in files)
        elif path.exists():
            out.append(p)
        else:
            raise ManifestError(f'the path "{p}" does not exist')
    return out


def load(paths: list[str], recursive: bool = False) -> Iterator[Document | BadDocument]:
    for p in expand_paths(paths, recursive):
        if p == "-":
            text, source = sys.stdin.read(), "STDIN"
        else:
            try:
                text = Path(p).read_text()
            except (OSError, UnicodeDecodeError) as e:
                raise ManifestError(f"cannot read {p}: {e}") from None
            source = p
        yield from parse_text(text, source)
