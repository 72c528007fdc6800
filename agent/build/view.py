"""A read-only merged view of unpacked layers, as overlayfs would show them.

`View(dirs)` takes layer directories lowest first (the image store's unpacked
layers, or a build's context directory alone). A character device 0/0 in a
layer hides that path below it; a directory marked trusted.overlay.opaque=y
hides everything below it in lower layers. Paths are image paths ("/usr/bin");
`resolve` follows symlinks as if the view were the root, never leaving it
(`strict=True` refuses instead of clamping: a context symlink leading out).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass


class Escapes(ValueError):
    """A path or a symlink on it leads outside the view's root."""


@dataclass(frozen=True)
class Entry:
    path: str                 # on the node
    st: os.stat_result


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def parts_of(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


class View:
    def __init__(self, dirs: list[str]) -> None:
        self.dirs = list(dirs)

    def _lstat(self, p: str) -> os.stat_result | None:
        try:
            return os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def lookup(self, path: str) -> Entry | None:
        """The topmost entry at path (not following a final symlink), or None."""
        parts = parts_of(path)
        for d in reversed(self.dirs):
            hidden_below = False
            for k in range(1, len(parts)):
                st = self._lstat(os.path.join(d, *parts[:k]))
                if st is None:
                    break
                if _whiteout(st) or not stat.S_ISDIR(st.st_mode):
                    return None
                if _opaque(os.path.join(d, *parts[:k])):
                    hidden_below = True
            else:
                full = os.path.join(d, *parts)
                st = self._lstat(full)
                if st is not None:
                    return None if _whiteout(st) else Entry(full, st)
            if hidden_below:
                return None
        return None

    def listdir(self, path: str) -> list[str]:
        """Names in the merged directory, sorted."""
        names: set[str] = set()
        gone: set[str] = set()
        parts = parts_of(path)
        for d in reversed(self.dirs):
            here = os.path.join(d, *parts)
            st = self._lstat(here)
            if st is None:
                continue
            if not stat.S_ISDIR(st.st_mode):
                break
            for n in os.listdir(here):
                if n in names or n in gone:
                    continue
                if _whiteout(os.lstat(os.path.join(here, n))):
                    gone.add(n)
                else:
                    names.add(n)
            if _opaque(here):
                break
        return sorted(names)

    def resolve(self, path: str, follow_last: bool = True, strict: bool = False) -> str:
        """The image path with every symlink on it resolved inside the root."""
        todo = parts_of(path)
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if not done and strict:
                    raise Escapes(f"{path} leads outside")
                if done:
                    done.pop()
                continue
            entry = self.lookup("/" + "/".join([*done, part]))
            if entry is not None and stat.S_ISLNK(entry.st.st_mode) and (todo or follow_last):
                hops += 1
                if hops > 255:
                    raise OSError(errno.ELOOP, f"too many symlinks in {path}")
                target = os.readlink(entry.path)
                if target.startswith("/"):
                    if strict:
                        raise Escapes(f"{path}: symlink {'/'.join([*done, part])} -> {target} "
                                      f"leads outside")
                    done = []
                todo = parts_of(target) + todo
                if strict:
                    depth = len(done)
                    for p in parts_of(target):
                        depth += -1 if p == ".." else 1
                        if depth < 0:
                            raise Escapes(f"{path}: symlink {'/'.join([*done, part])} -> "
                                          f"{target} leads outside")
                continue
            done.append(part)
        return "/" + "/".join(done)
