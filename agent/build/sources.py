"""COPY and ADD sources: the context as received, globs, escapes, content digests.

`unpack_context(tar, dest)` extracts the client's context tar with every
member checked: no absolute names, nothing through `..` or an earlier symlink
outside `dest`, no device files; owners are dropped (COPY makes files root's
unless --chown). `find(view, patterns, in_context)` turns COPY's source
patterns into paths of the view: in the context an absolute path, a `..`
leading out, or a symlink leading out is refused (ContextError); in a stage
or image (`--from`) paths are the image's. `digest(view, paths)` hashes what
would be copied (names, types, modes, link targets, contents): the part of a
COPY's cache key that changes when a copied file does.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import stat
import tarfile
from typing import BinaryIO

from agent.build.errors import ContextError
from agent.build.view import Escapes, View, parts_of

_GLOB = set("*?[")


def unpack_context(src: BinaryIO, dest: str) -> None:
    root = os.path.realpath(dest)

    def check(m: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
        name = m.name
        if name.startswith("/") or ".." in name.split("/"):
            raise ContextError(f"build context: refused entry {name!r} (absolute or with ..)")
        where = os.path.realpath(os.path.join(root, os.path.dirname(name)))
        if where != root and not where.startswith(root + os.sep):
            raise ContextError(f"build context: entry {name!r} would be written outside the "
                               f"context (through a symlink)")
        if m.isdev():
            raise ContextError(f"build context: {name!r} is a device file")
        if m.islnk() and (m.linkname.startswith("/") or ".." in m.linkname.split("/")):
            raise ContextError(f"build context: hard link {name!r} leads outside")
        return m.replace(uid=0, gid=0, uname="", gname="", deep=False)

    try:
        with tarfile.open(fileobj=src, mode="r|*") as tf:
            tf.extractall(root, filter=check)
    except tarfile.TarError as e:
        raise ContextError(f"build context: not a valid tar stream: {e}") from None
    os.chmod(root, 0o755)      # `COPY . /app` makes /app like Docker: 0755


def _has_glob(s: str) -> bool:
    return any(c in _GLOB for c in s)


def _expand(view: View, pattern: str, strict: bool) -> list[str]:
    """Image paths matching the pattern, each path component globbed separately."""
    found = ["/"]
    for part in parts_of(pattern):
        nxt: list[str] = []
        for base in found:
            real = view.resolve(base, strict=strict)
            if _has_glob(part):
                nxt.extend(posixpath.join(real, n) for n in view.listdir(real)
                           if fnmatch.fnmatchcase(n, part))
            else:
                nxt.append(posixpath.join(real, part))
        found = nxt
    return [p for p in found if view.lookup(view.resolve(p, strict=strict)) is not None
            or p == "/"]


def find(view: View, patterns: list[str], in_context: bool, what: str) -> list[str]:
    """The source paths (image paths, symlinks on them resolved) of COPY's patterns."""
    out: list[str] = []
    for pat in patterns:
        if in_context:
            if pat.startswith("/"):
                raise ContextError(f"{what}: source {pat!r} is an absolute path; sources are "
                                   f"relative to the build context")
            norm = posixpath.normpath(pat)
            if norm == ".." or norm.startswith("../"):
                raise ContextError(f"{what}: source {pat!r} is outside the build context")
        try:
            matches = [view.resolve(p, strict=in_context) for p in _expand(view, pat, in_context)]
        except Escapes as e:
            raise ContextError(f"{what}: source {pat!r}: a symlink leads outside the "
                               f"build context ({e})") from None
        if not matches:
            where = "the build context" if in_context else "the source image"
            raise ContextError(f"{what}: {pat!r}: no such file or directory in {where}")
        out.extend(matches)
    return out


def _hash_tree(view: View, path: str, rel: str, h: hashlib._Hash) -> None:
    entry = view.lookup(path)
    if entry is None:
        return
    st = entry.st
    h.update(f"{rel}\0{stat.S_IFMT(st.st_mode)}\0{stat.S_IMODE(st.st_mode)}\0".encode())
    if stat.S_ISLNK(st.st_mode):
        h.update(os.readlink(entry.path).encode() + b"\0")
    elif stat.S_ISREG(st.st_mode):
        with open(entry.path, "rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    elif stat.S_ISDIR(st.st_mode):
        for name in view.listdir(path):
            _hash_tree(view, posixpath.join(path, name), f"{rel}/{name}", h)


def digest(view: View, paths: list[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        _hash_tree(view, p, posixpath.basename(p) or "/", h)
    return "sha256:" + h.hexdigest()
