"""The build context as `corral build` sends it: the directory less `.dockerignore`, as a tar.

`.dockerignore` follows Docker's rules: one pattern a line, `#` comments,
surrounding blanks and a leading `/` dropped, Go `filepath.Match` syntax
(`*`, `?`, `[a-z]`, `\\` escapes) plus `**` for any number of directories, `!`
re-includes; the last pattern that matches a path (or one of its parents)
decides. `pack(root, out)` writes an uncompressed tar of what is left (sorted,
owners dropped, modes and mtimes kept, symlinks as symlinks; sockets and
devices skipped) and returns its size; `context_size` counts it first, so a
context over the limit is refused before anything is sent.
"""

from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO


class ContextError(Exception):
    pass


@dataclass(frozen=True)
class Pattern:
    text: str
    regex: re.Pattern[str]
    negate: bool


def _compile(pat: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pat):
        c = pat[i]
        if c == "*":
            if pat.startswith("**", i):
                i += 2
                if pat.startswith("/", i):          # **/ : any leading directories
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pat.find("]", i + 1)
            if end < 0:
                raise ContextError(f".dockerignore: bad pattern {pat!r}: unclosed [")
            body = pat[i + 1:end].replace("\\", "\\\\")
            if body.startswith("^"):
                body = "!" + body[1:]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        elif c == "\\" and i + 1 < len(pat):
            i += 1
            out.append(re.escape(pat[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def parse_ignore(text: str) -> list[Pattern]:
    pats: list[Pattern] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:].strip()
        line = os.path.normpath(line.lstrip("/")) if line.lstrip("/") else "."
        if line == ".":
            continue
        pats.append(Pattern(line, _compile(line), negate))
    return pats


def excluded(rel: str, pats: list[Pattern]) -> bool:
    parents = rel.split("/")
    prefixes = ["/".join(parents[:k]) for k in range(1, len(parents) + 1)]
    result = False
    for p in pats:
        if any(p.regex.fullmatch(x) for x in prefixes):
            result = not p.negate
    return result


def load_ignore(root: str) -> list[Pattern]:
    try:
        with open(os.path.join(root, ".dockerignore")) as f:
            return parse_ignore(f.read())
    except FileNotFoundError:
        return []


def walk(root: str, pats: list[Pattern]) -> Iterator[str]:
    """Relative paths to send, parents before children, sorted."""
    has_negations = any(p.negate for p in pats)

    def visit(rel: str) -> Iterator[str]:
        here = os.path.join(root, rel) if rel else root
        for name in sorted(os.listdir(here)):
            r = f"{rel}/{name}" if rel else name
            path = os.path.join(root, r)
            is_dir = os.path.isdir(path) and not os.path.islink(path)
            if excluded(r, pats):
                if is_dir and has_negations:
                    yield from visit(r)          # something inside may be re-included
                continue
            yield r
            if is_dir:
                yield from visit(r)
    if not os.path.isdir(root):
        raise ContextError(f"{root}: the build context must be a directory")
    yield from visit("")


def context_size(root: str, pats: list[Pattern]) -> int:
    total = 0
    for rel in walk(root, pats):
        st = os.lstat(os.path.join(root, rel))
        total += 512 + (st.st_size + 511) // 512 * 512 if os.path.isfile(
            os.path.join(root, rel)) and not os.path.islink(os.path.join(root, rel)) else 512
    return total + 1024


def pack(root: str, pats: list[Pattern], out: BinaryIO) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for rel in walk(root, pats):
            path = os.path.join(root, rel)
            ti = tf.gettarinfo(path, arcname=rel)
            if ti is None or ti.isdev():
                continue
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            if ti.isreg():
                with open(path, "rb") as f:
                    tf.addfile(ti, f)
            else:
                tf.addfile(ti)
