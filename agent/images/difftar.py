"""A layer from a directory in overlayfs' upper-dir form: the inverse of unpack.py.

`layer_of_upper(store, root)` writes root's tree as an OCI layer: a PAX tar in
sorted order (names relative, no "./", owners numeric, modes and mtimes as on
disk, hard links as links), where a character device 0/0 (overlayfs' mark of a
deletion) becomes an empty `.wh.<name>` entry and a directory with
trusted.overlay.opaque=y gets a `.wh..wh..opq` entry (its lower contents are
hidden). Extended attributes that unpacking keeps (security.capability,
user.*) go along as PAX SCHILY.xattr records, as docker and buildah write them.
The tar is gzipped (mtime 0) and stored as a blob; both the blob's
digest and the tar's (the diffID) are hashed in the same pass. The same tree
gives the same layer, so a layer built twice is stored once.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from typing import IO, BinaryIO, cast

from agent.images.digest import HashingWriter
from agent.images.manifest import OCI_LAYER_GZIP, Descriptor
from agent.images.store import ContentStore
from agent.images.unpack import OPAQUE, WHITEOUT_PREFIX, carried_xattr

GZIP_LEVEL = 6


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def xattr_headers(path: str) -> dict[str, str]:
    """PAX records for the extended attributes of path that a layer carries."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out: dict[str, str] = {}
    for name in sorted(names):
        if not carried_xattr(name):
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return out


def _marker(name: str, mtime: float = 0) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mode, ti.mtime = tarfile.REGTYPE, 0, 0o644, int(mtime)
    return ti


def _walk(tf: tarfile.TarFile, root: str, rel: str) -> None:
    here = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(here)):
        path = os.path.join(here, name)
        arc = f"{rel}/{name}" if rel else name
        st = os.lstat(path)
        if _is_whiteout(st):
            tf.addfile(_marker(f"{rel}/{WHITEOUT_PREFIX}{name}" if rel
                               else WHITEOUT_PREFIX + name, st.st_mtime))
            continue
        ti = tf.gettarinfo(path, arcname=arc)
        if ti is None:          # a socket: not part of an image
            continue
        ti.uname = ti.gname = ""
        ti.pax_headers = {**ti.pax_headers, **xattr_headers(path)}
        if ti.isreg():
            with open(path, "rb") as src:
                tf.addfile(ti, src)
        else:
            tf.addfile(ti)
        if stat.S_ISDIR(st.st_mode):
            if _is_opaque(path):
                tf.addfile(_marker(f"{arc}/{OPAQUE}", st.st_mtime))
            _walk(tf, root, arc)


def layer_of_upper(store: ContentStore, root: str) -> tuple[Descriptor, str]:
    """Store a gzipped OCI layer of root's tree; returns (blob descriptor, diffID)."""
    with store.temp_file(".tar.gz") as (path, f):
        compressed = HashingWriter(f)
        gz = gzip.GzipFile(fileobj=cast(IO[bytes], compressed), mode="wb", mtime=0,
                           compresslevel=GZIP_LEVEL)
        plain = HashingWriter(cast(BinaryIO, gz))
        with tarfile.open(fileobj=cast(IO[bytes], plain), mode="w|",
                          format=tarfile.PAX_FORMAT) as tf:
            _walk(tf, root, "")
        gz.close()
        if not store.has_blob(compressed.digest):
            store.commit_file(path, f, compressed.digest)
        return Descriptor(OCI_LAYER_GZIP, compressed.digest, compressed.size), plain.digest


def is_empty(root: str) -> bool:
    return not os.listdir(root)
