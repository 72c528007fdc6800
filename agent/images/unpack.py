"""Safe unpacking of one layer tar into an empty directory, whiteouts as overlayfs wants.

`unpack_layer(src, dest, ...)` decompresses (gzip; zstd with the `zstandard`
package, a dependency; plain tar), hashes the uncompressed stream (the diffID)
and extracts it into `dest`, an empty directory the caller owns (LayerStore
gives a temp dir and renames it into place afterwards). It returns the diffID
and the uncompressed size; the caller compares the diffID with the image
config's rootfs.diff_ids.

Policy (what this module guarantees; every refusal is UnsafeLayer naming the entry):

- Names: a leading "/" is stripped (absolute names are made relative, as
  Docker and GNU tar do); "." and empty components are dropped; any ".."
  component is refused; NUL bytes are refused.
- Symlinks are created as they are (their targets are only ever interpreted
  inside the container) but never followed: an entry whose parent path goes
  through a symlink is refused (a layer diff never legitimately has one), and
  an existing entry is unlinked before it is replaced, so no write can pass
  through a link. Directory attributes, set after the last entry, are skipped
  for a directory a later entry replaced (or moved behind a symlink). Parents
  that are missing are created (0755).
- Hardlinks must point at an entry already extracted into this same layer
  (not a directory); "/etc/passwd" becomes "etc/passwd", and if that is not
  in the layer the tar is refused.
- Whiteouts: ".wh.<name>" becomes a character device 0/0 named <name>;
  ".wh..wh..opq" sets trusted.overlay.opaque=y on its directory; other
  ".wh..wh.*" (aufs metadata) are ignored; a bare ".wh." is refused.
- Device nodes (char/block) in the tar are skipped (a container gets its /dev
  from the runtime); FIFOs are created. Regular files keep their mode
  including setuid/setgid/sticky bits, and owners are kept as the numeric
  uid/gid in the tar (we run as root; chmod follows chown so the bits
  survive). Modification times are kept.
- Extended attributes (PAX SCHILY.xattr.*): only user.* and
  security.capability are applied; trusted.* (which overlayfs interprets,
  e.g. forged opaque/redirect markers) and the rest are dropped.
- Decompression bombs: the uncompressed stream is counted and the unpack
  stops with LayerTooLarge past `max_size` bytes.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Callable
from typing import IO, BinaryIO, cast

import zstandard

from agent.images.digest import CHUNK, Readable
from agent.images.errors import DEFAULT_MAX_SIZE, LayerTooLarge, UnsafeLayer, Unsupported

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
_ALLOWED_XATTR_PREFIXES = ("user.",)
_ALLOWED_XATTRS = ("security.capability",)


def carried_xattr(name: str) -> bool:
    """An extended attribute a layer may carry (user.*, security.capability)."""
    return name.startswith(_ALLOWED_XATTR_PREFIXES) or name in _ALLOWED_XATTRS


# what a corrupt compressed stream raises while it is read
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error, zstandard.ZstdError)


def decompressed(src: BinaryIO) -> Readable:
    """A reader of the uncompressed tar, chosen by the stream's magic bytes."""
    head = src.read(4)
    src.seek(-len(head), io.SEEK_CUR)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=src, mode="rb")
    if head == b"\x28\xb5\x2f\xfd":
        return cast(Readable, zstandard.ZstdDecompressor().stream_reader(src))
    return src


class _Counting:
    """Hashes and counts what is read; stops past max_size."""

    def __init__(self, inner: Readable, max_size: int, label: str) -> None:
        self.inner = inner
        self.max_size = max_size
        self.label = label
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self.inner.read(CHUNK if n is None or n < 0 else n)
        self.size += len(data)
        if self.size > self.max_size:
            raise LayerTooLarge(
                f"layer {self.label}: uncompressed size exceeds the limit of {self.max_size} bytes"
            )
        self.hash.update(data)
        return data


def unpack_layer(
    src: BinaryIO,
    dest: str,
    label: str = "",
    max_size: int = DEFAULT_MAX_SIZE,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[str, int]:
    """Extract the (compressed) layer tar `src` into empty dir `dest`; return (diffID, size).

    on_bytes(n) is called after each entry with n = bytes of `src` consumed so far.
    """
    counting = _Counting(decompressed(src), max_size, label or "?")
    x = _Extractor(dest, label or "?")
    try:
        with tarfile.open(fileobj=cast(IO[bytes], counting), mode="r|") as tf:
            for member in tf:
                x.entry(tf, member)
                if on_bytes is not None:
                    on_bytes(src.tell())
        while counting.read(CHUNK):
            pass
        x.finish()
    except _DECODE_ERRORS as e:
        raise UnsafeLayer(f"layer {label}: not a valid tar stream: {e}") from e
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise                      # the disk's fault, not the layer's
        # entries that contradict each other (a file where a directory must be,
        # symlink loops, links to nothing): a malformed layer, refused as such
        raise UnsafeLayer(f"layer {label}: cannot unpack: {e.strerror or e}"
                          f"{' (' + os.path.basename(e.filename) + ')' if e.filename else ''}"
                          ) from e
    return "sha256:" + counting.hash.hexdigest(), counting.size


def _components(name: str, label: str, what: str = "entry") -> list[str]:
    if "\x00" in name:
        raise UnsafeLayer(f"layer {label}: {what} {name!r} contains a NUL byte")
    parts = [p for p in name.lstrip("/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayer(f"layer {label}: {what} {name!r} has a '..' component")
    return parts


class _Extractor:
    def __init__(self, root: str, label: str) -> None:
        self.root = os.path.abspath(root)
        self.label = label
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []
        self.is_root = os.geteuid() == 0
        self.skipped_devices: list[str] = []

    def _refuse(self, member: tarfile.TarInfo, why: str) -> UnsafeLayer:
        return UnsafeLayer(f"layer {self.label}: entry {member.name!r} {why}")

    def _parent(self, member: tarfile.TarInfo, parts: list[str], create: bool) -> str:
        """The real directory for parts (inside root), refusing symlinks on the way."""
        cur = self.root
        for c in parts:
            p = os.path.join(cur, c)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                if not create:
                    raise self._refuse(member, "links to a path not in this layer") from None
                os.mkdir(p, 0o755)
                cur = p
                continue
            if stat.S_ISLNK(st.st_mode):
                rel = os.path.relpath(p, self.root)
                raise self._refuse(member, f"goes through the symlink {rel!r}")
            if not stat.S_ISDIR(st.st_mode):
                if not create:
                    raise self._refuse(member, "links to a path that is not in this layer")
                os.unlink(p)
                os.mkdir(p, 0o755)
            cur = p
        return cur

    def _clear(self, path: str, keep_dir: bool = False) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = _components(m.name, self.label)
        if not parts:
            return  # the root itself
        base = parts[-1]
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(m, parts)
            return
        parent = self._parent(m, parts[:-1], create=True)
        path = os.path.join(parent, base)
        if m.isdir():
            self._clear(path, keep_dir=True)
            if not os.path.lexists(path):
                os.mkdir(path, 0o700)
            self.dirs.append((path, m))
            return
        if m.ischr() or m.isblk():
            self.skipped_devices.append(m.name)
            return
        self._clear(path)
        if m.isreg():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                data = tf.extractfile(m)
                if data is not None:
                    shutil.copyfileobj(data, out, CHUNK)
        elif m.issym():
            os.symlink(m.linkname, path)
        elif m.islnk():
            lparts = _components(m.linkname, self.label, "hardlink target")
            if not lparts:
                raise self._refuse(m, "is a hardlink to the layer root")
            lparent = self._parent(m, lparts[:-1], create=False)
            target = os.path.join(lparent, lparts[-1])
            try:
                tst = os.lstat(target)
            except FileNotFoundError:
                raise self._refuse(
                    m, f"is a hardlink to {m.linkname!r}, which is not in this layer"
                ) from None
            if stat.S_ISDIR(tst.st_mode):
                raise self._refuse(m, f"is a hardlink to the directory {m.linkname!r}")
            os.link(target, path, follow_symlinks=False)
            return  # attributes are the target's
        elif m.isfifo():
            os.mkfifo(path, 0o600)
        else:
            return  # unknown type: ignored
        self._attrs(path, m)

    def _whiteout(self, m: tarfile.TarInfo, parts: list[str]) -> None:
        base = parts[-1]
        parent = self._parent(m, parts[:-1], create=True)
        if base == OPAQUE:
            try:
                os.setxattr(parent, "trusted.overlay.opaque", b"y")
            except OSError as e:
                raise Unsupported(
                    f"layer {self.label}: cannot mark {m.name!r} opaque "
                    f"(trusted.overlay.opaque needs root and xattr support): {e}"
                ) from e
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # aufs metadata (.wh..wh.plnk etc.)
        name = base[len(WHITEOUT_PREFIX) :]
        if not name:
            raise self._refuse(m, "is a bare whiteout with no name")
        if name in (".", ".."):
            raise self._refuse(m, f"is a whiteout of {name!r}")
        path = os.path.join(parent, name)
        self._clear(path)
        try:
            os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        except PermissionError as e:
            raise Unsupported(
                f"layer {self.label}: cannot create whiteout for {m.name!r} (needs root): {e}"
            ) from e

    def _attrs(self, path: str, m: tarfile.TarInfo) -> None:
        link = m.issym()
        if self.is_root:
            os.chown(path, m.uid, m.gid, follow_symlinks=False)
        for key, value in m.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            xname = key[len("SCHILY.xattr.") :]
            if carried_xattr(xname):
                with contextlib.suppress(OSError):
                    raw = value.encode("utf-8", "surrogateescape")
                    os.setxattr(path, xname, raw, follow_symlinks=False)
        if not link:
            os.chmod(path, m.mode & 0o7777)
        with contextlib.suppress(OSError):
            os.utime(path, (m.mtime, m.mtime), follow_symlinks=False)

    def finish(self) -> None:
        for path, m in reversed(self.dirs):
            if self._still_a_dir(path):
                self._attrs(path, m)

    def _still_a_dir(self, path: str) -> bool:
        """A directory entry's path is still a directory reached through no symlink (a
        later entry may have replaced it, or a parent, with a link: chmod follows it)."""
        cur = self.root
        for c in os.path.relpath(path, self.root).split(os.sep):
            cur = os.path.join(cur, c)
            try:
                if not stat.S_ISDIR(os.lstat(cur).st_mode):
                    return False
            except FileNotFoundError:
                return False
        return True
