"""COPY and ADD into a new layer directory, with Docker's rules.

The new layer is a fresh directory that sits on top of the image's layers in
`image` (a View whose top directory is the layer). Every destination path is
resolved through the image's symlinks inside its root (a `/bin -> usr/bin`
image gets files in /usr/bin), parents missing from the layer are made with
the image's metadata (or 0755, and the --chown owner, when the image has
none), and files are written with O_NOFOLLOW after removing what the layer
had there, so nothing is ever written outside the layer directory.

Docker's rules: several sources (or a glob) need a destination ending in
`/`; a directory source copies its contents; a file goes to DEST/name when
DEST ends in `/` or is a directory, else to DEST; context files are 0:0 unless
--chown; --chmod sets the mode of what is copied; modes, mtimes and the extended attributes
a layer carries (security.capability, user.*) are kept; owners too for `--from`
sources (BuildKit's behaviour).
ADD extracts a local tar (plain, gzip, bzip2 or xz) into the destination,
keeping the archive's owners unless --chown, and its carried xattrs.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from agent.build.errors import ContextError
from agent.build.view import View, parts_of

_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
# what a layer carries (agent/images/unpack.py keeps the same ones)
_XATTRS, _XATTR_PREFIXES = ("security.capability",), ("user.",)


@dataclass(frozen=True)
class CopyOptions:
    owner: tuple[int, int] | None = None       # --chown, resolved to numbers
    mode: int | None = None                     # --chmod
    extract: bool = False                       # ADD: unpack local archives


def is_archive(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    return head.startswith(_MAGIC) or (len(head) >= 262 and head[257:262] == b"ustar")


class Copier:
    def __init__(self, layer_dir: str, image: View, opts: CopyOptions, what: str) -> None:
        self.layer = layer_dir
        self.image = image
        self.opts = opts
        self.what = what

    # -- the layer side --------------------------------------------------------------

    def _host(self, image_path: str) -> str:
        return os.path.join(self.layer, *parts_of(image_path))

    def ensure_dir(self, image_path: str, like: os.stat_result | None = None) -> str:
        """The directory (resolved inside the image) made in the layer; its image path."""
        real = self.image.resolve(image_path)
        done = "/"
        for part in parts_of(real):
            done = posixpath.join(done, part)
            host = self._host(done)
            st = os.lstat(host) if os.path.lexists(host) else None
            if st is not None:
                if not stat.S_ISDIR(st.st_mode):
                    raise ContextError(f"{self.what}: cannot make directory {done}: "
                                       f"a file is in the way")
                continue
            lower = self.image.lookup(done)
            os.mkdir(host, 0o700)
            if lower is not None and stat.S_ISDIR(lower.st.st_mode):
                st = lower.st        # the image's directory: same owner, mode and time
                os.chown(host, st.st_uid, st.st_gid)
                os.chmod(host, stat.S_IMODE(st.st_mode))
                os.utime(host, ns=(st.st_mtime_ns, st.st_mtime_ns))
            elif done == real and like is not None:
                self._file_attrs(host, like, keep_owner=False)
            else:
                uid, gid = self.opts.owner or (0, 0)
                os.chown(host, uid, gid)
                os.chmod(host, 0o755)
        return real

    def _clear(self, host: str) -> None:
        if os.path.isdir(host) and not os.path.islink(host):
            shutil.rmtree(host)
        elif os.path.lexists(host):
            os.unlink(host)

    # -- copying -----------------------------------------------------------------------

    def copy_entry(self, src: View, src_path: str, dest: str, keep_owner: bool) -> None:
        """One entry (recursively for directories) of src at image path dest."""
        entry = src.lookup(src_path)
        if entry is None:
            return
        st = entry.st
        parent = self.ensure_dir(posixpath.dirname(dest) or "/")
        target = posixpath.join(parent, posixpath.basename(dest))
        host = self._host(target)
        if stat.S_ISDIR(st.st_mode):
            existing = self.image.lookup(self.image.resolve(target))
            if existing is None or not stat.S_ISDIR(existing.st.st_mode):
                self._clear(host)
            target = self.ensure_dir(target, st)
            self.copy_contents(src, src_path, target, keep_owner)
            self._dir_attrs(self._host(target), st, keep_owner, entry.path)  # after: its mtime
            return
        self._clear(host)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(entry.path), host)
            uid, gid = (st.st_uid, st.st_gid) if keep_owner else (0, 0)
            os.chown(host, *(self.opts.owner or (uid, gid)), follow_symlinks=False)
            os.utime(host, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)
        elif stat.S_ISREG(st.st_mode):
            fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out, open(entry.path, "rb") as inp:
                shutil.copyfileobj(inp, out, 1 << 20)
            self._file_attrs(host, st, keep_owner, entry.path)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(host, 0o600)
            self._file_attrs(host, st, keep_owner)
        # sockets and devices are not copied

    def _file_attrs(self, host: str, st: os.stat_result, keep_owner: bool,
                    src: str | None = None) -> None:
        uid, gid = (st.st_uid, st.st_gid) if keep_owner else (0, 0)
        if self.opts.owner is not None:
            uid, gid = self.opts.owner
        os.chown(host, uid, gid, follow_symlinks=False)
        if src is not None:
            _copy_xattrs(src, host)        # after chown, which drops security.capability
        os.chmod(host, self.opts.mode if self.opts.mode is not None else stat.S_IMODE(st.st_mode))
        os.utime(host, ns=(st.st_mtime_ns, st.st_mtime_ns))

    def _dir_attrs(self, host: str, st: os.stat_result, keep_owner: bool,
                   src: str | None = None) -> None:
        self._file_attrs(host, st, keep_owner, src)

    def copy_contents(self, src: View, src_dir: str, dest_dir: str, keep_owner: bool) -> None:
        for name in src.listdir(src_dir):
            self.copy_entry(src, posixpath.join(src_dir, name), posixpath.join(dest_dir, name),
                            keep_owner)

    def copy(self, src: View, paths: list[str], dest: str, many: bool, keep_owner: bool) -> None:
        """COPY paths... dest (dest absolute, as written: a trailing / means a directory)."""
        if many and not dest.endswith("/"):
            raise ContextError(f"{self.what}: with more than one source file, the destination "
                               f"must be a directory and end with a /")
        existing = self.image.lookup(self.image.resolve(dest))
        dest_is_dir = dest.endswith("/") or (existing is not None
                                             and stat.S_ISDIR(existing.st.st_mode))
        for p in paths:
            entry = src.lookup(p)
            if entry is None:
                continue
            if stat.S_ISDIR(entry.st.st_mode):
                real = self.ensure_dir(dest, entry.st if existing is None else None)
                self.copy_contents(src, p, real, keep_owner)
                if existing is None:
                    self._dir_attrs(self._host(real), entry.st, keep_owner)
            elif self.opts.extract and stat.S_ISREG(entry.st.st_mode) and is_archive(entry.path):
                self.extract(entry.path, dest)
            else:
                target = posixpath.join(dest, posixpath.basename(p)) if dest_is_dir else dest
                self.copy_entry(src, p, target.rstrip("/") or "/", keep_owner)

    def extract(self, archive: str, dest: str) -> None:
        """ADD of a local archive: its tree into dest, owners kept (unless --chown)."""
        with _scratch(self.layer) as tmp:
            try:
                with tarfile.open(archive, "r:*") as tf:
                    tf.extractall(tmp, filter=_archive_filter(tmp, self.what))
                    _tar_xattrs(tf.getmembers(), tmp)
            except tarfile.TarError as e:
                raise ContextError(f"{self.what}: cannot extract {posixpath.basename(archive)}: "
                                   f"{e}") from None
            real = self.ensure_dir(dest)
            self.copy_contents(View([tmp]), "/", real, keep_owner=True)


def _copy_xattrs(src: str, dst: str) -> None:
    with contextlib.suppress(OSError):
        for name in os.listxattr(src, follow_symlinks=False):
            if name in _XATTRS or name.startswith(_XATTR_PREFIXES):
                os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False),
                            follow_symlinks=False)


def _tar_xattrs(members: list[tarfile.TarInfo], root: str) -> None:
    """The carried xattrs of an extracted archive's files and directories (PAX
    SCHILY.xattr records, which tarfile does not apply), set on what was extracted."""
    real_root = os.path.realpath(root)
    for m in members:
        if not (m.isreg() or m.isdir()):
            continue
        name = m.name.lstrip("/")
        path = os.path.join(real_root, name)
        if ".." in name.split("/") or os.path.realpath(path) != path.rstrip("/"):
            continue                  # refused or reached through a symlink: not touched
        for key, value in m.pax_headers.items():
            xname = key.removeprefix("SCHILY.xattr.")
            if xname != key and (xname in _XATTRS or xname.startswith(_XATTR_PREFIXES)):
                with contextlib.suppress(OSError):
                    os.setxattr(path, xname, value.encode("utf-8", "surrogateescape"),
                                follow_symlinks=False)


@contextlib.contextmanager
def _scratch(layer: str) -> Iterator[str]:
    tmp = tempfile.mkdtemp(prefix=".add-", dir=os.path.dirname(layer))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _archive_filter(root: str, what: str
                    ) -> Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None]:
    real_root = os.path.realpath(root)

    def check(m: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        if m.isdev():
            return None
        name = m.name.lstrip("/")
        if ".." in name.split("/"):
            raise ContextError(f"{what}: archive entry {m.name!r} leads outside")
        where = os.path.realpath(os.path.join(real_root, os.path.dirname(name)))
        if where != real_root and not where.startswith(real_root + os.sep):
            raise ContextError(f"{what}: archive entry {m.name!r} leads outside (symlink)")
        if m.islnk() and (m.linkname.startswith("/") or ".." in m.linkname.split("/")):
            raise ContextError(f"{what}: archive hard link {m.name!r} leads outside")
        return m.replace(name=name, deep=False)
    return check
