"""Watch every filesystem write a module makes and refuse any that lands outside a root.

`audited(module, root)` swaps the module's `os` and `shutil` for proxies that
resolve each path the way the kernel will (following symlinks where the call
does) BEFORE the call: a write whose real target is outside `root` is recorded
and refused with `Escape`, so a test sees escapes through symlinks to `/` or
`/etc` without the host being touched, and whatever the module does with the
exception. Reads pass through.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any
from unittest import mock


class Escape(AssertionError):
    """A write whose real target is outside the root."""


def real_target(path: Any, follow: bool) -> str:
    """Where a call on `path` acts: the resolved path, or (not following the last
    component) the resolved parent plus the name."""
    p = os.path.abspath(os.fspath(path))
    if follow:
        return os.path.realpath(p)
    parent, name = os.path.split(p)
    return os.path.join(os.path.realpath(parent), name)


class _Audit:
    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self.escapes: list[str] = []

    def check(self, op: str, path: Any, follow: bool) -> None:
        target = real_target(path, follow)
        if target != self.root and not target.startswith(self.root + os.sep):
            self.escapes.append(f"{op}({os.fspath(path)!r}) -> {target}")
            raise Escape(f"{op} on {os.fspath(path)!r} would write {target}, "
                         f"outside {self.root}")


class _Os:
    """`os` with its writing calls checked."""

    def __init__(self, audit: _Audit) -> None:
        self._a = audit

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
            self._a.check("open", path, follow=not flags & os.O_NOFOLLOW)
        return os.open(path, flags, mode, **kw)

    def mkdir(self, path: Any, mode: int = 0o777, **kw: Any) -> None:
        self._a.check("mkdir", path, follow=False)
        os.mkdir(path, mode, **kw)

    def mkfifo(self, path: Any, mode: int = 0o666, **kw: Any) -> None:
        self._a.check("mkfifo", path, follow=False)
        os.mkfifo(path, mode, **kw)

    def mknod(self, path: Any, mode: int = 0o600, device: int = 0, **kw: Any) -> None:
        self._a.check("mknod", path, follow=False)
        os.mknod(path, mode, device, **kw)

    def symlink(self, src: Any, dst: Any, *a: Any, **kw: Any) -> None:
        self._a.check("symlink", dst, follow=False)
        os.symlink(src, dst, *a, **kw)

    def link(self, src: Any, dst: Any, *, follow_symlinks: bool = True, **kw: Any) -> None:
        self._a.check("link (source)", src, follow=follow_symlinks)
        self._a.check("link", dst, follow=False)
        os.link(src, dst, follow_symlinks=follow_symlinks, **kw)

    def unlink(self, path: Any, **kw: Any) -> None:
        self._a.check("unlink", path, follow=False)
        os.unlink(path, **kw)

    remove = unlink

    def rmdir(self, path: Any, **kw: Any) -> None:
        self._a.check("rmdir", path, follow=False)
        os.rmdir(path, **kw)

    def rename(self, src: Any, dst: Any, **kw: Any) -> None:
        self._a.check("rename (source)", src, follow=False)
        self._a.check("rename", dst, follow=False)
        os.rename(src, dst, **kw)

    def chmod(self, path: Any, mode: int, *, follow_symlinks: bool = True, **kw: Any) -> None:
        self._a.check("chmod", path, follow=follow_symlinks)
        os.chmod(path, mode, follow_symlinks=follow_symlinks, **kw)

    def chown(self, path: Any, uid: int, gid: int, *, follow_symlinks: bool = True,
              **kw: Any) -> None:
        self._a.check("chown", path, follow=follow_symlinks)
        os.chown(path, uid, gid, follow_symlinks=follow_symlinks, **kw)

    def utime(self, path: Any, *a: Any, follow_symlinks: bool = True, **kw: Any) -> None:
        self._a.check("utime", path, follow=follow_symlinks)
        os.utime(path, *a, follow_symlinks=follow_symlinks, **kw)

    def setxattr(self, path: Any, attr: str, value: bytes, flags: int = 0, *,
                 follow_symlinks: bool = True) -> None:
        self._a.check("setxattr", path, follow=follow_symlinks)
        os.setxattr(path, attr, value, flags, follow_symlinks=follow_symlinks)


class _Shutil:
    """`shutil` with rmtree checked (it never follows a symlink it is given)."""

    def __init__(self, audit: _Audit) -> None:
        self._a = audit

    def __getattr__(self, name: str) -> Any:
        return getattr(shutil, name)

    def rmtree(self, path: Any, *a: Any, **kw: Any) -> None:
        self._a.check("rmtree", path, follow=False)
        shutil.rmtree(path, *a, **kw)


@contextmanager
def audited(module: ModuleType, root: str) -> Iterator[list[str]]:
    """While inside: `module`'s writes outside `root` are refused; yields the list of
    attempted escapes (it also holds the ones the module caught and swallowed)."""
    audit = _Audit(root)
    with mock.patch.object(module, "os", _Os(audit)), \
            mock.patch.object(module, "shutil", _Shutil(audit)):
        yield audit.escapes
