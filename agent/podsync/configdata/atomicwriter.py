"""Writing a ConfigMap / Secret / projected / downwardAPI volume so that a reader never
sees half of an update: the kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go).

    write_payload("/.../volumes/config", {"game.properties": File(b"...", 0o644)})

The volume directory holds:

    ..2024_01_31_12_00_00.123456789/   the files of one version (a timestamped dir)
    ..data -> ..2024_01_31_12_00_00.123456789
    game.properties -> ..data/game.properties        one link per top-level name

An update writes a new timestamped directory, points a `..data_tmp` link at it and
renames that over `..data` (one rename: atomic), then fixes the top-level links and
removes the old directory. A path opened through the links resolves to one whole
version, old or new. A payload equal to what is there (content and mode) writes
nothing. subPath mounts bind a file of a version directly, so they do not update
(as in Kubernetes).

Paths are relative, without `..` elements (validated by the API server; checked
again here). `fs_group` (the pod's securityContext.fsGroup) owns the files, which
are then group-readable as with the kubelet.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

DATA = "..data"
DATA_TMP = "..data_tmp"


class PayloadError(ValueError):
    """A payload path that would leave the volume."""


@dataclass(frozen=True)
class File:
    data: bytes
    mode: int = 0o644


def check_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or ".." in parts or path.startswith("..") \
            or "" in parts:
        raise PayloadError(f"invalid path {path!r} in a volume: it must be relative, "
                           "without '..' and not start with '..'")


def current_version(volume_dir: str) -> str | None:
    """The timestamped directory `..data` points at (None before the first write)."""
    try:
        return os.readlink(os.path.join(volume_dir, DATA))
    except OSError:
        return None


def read_payload(volume_dir: str) -> dict[str, File]:
    """What the current version holds (relative path -> File)."""
    version = current_version(volume_dir)
    out: dict[str, File] = {}
    if version is None:
        return out
    root = os.path.join(volume_dir, version)
    for base, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(base, name)
            with open(full, "rb") as f:
                data = f.read()
            out[os.path.relpath(full, root)] = File(data, os.stat(full).st_mode & 0o7777)
    return out


def write_payload(volume_dir: str, payload: Mapping[str, File],
                  fs_group: int | None = None) -> bool:
    """Make `payload` the volume's content in one atomic swap; False if it already was."""
    for path in payload:
        check_path(path)
    wanted = {p: File(f.data, _mode(f.mode, fs_group)) for p, f in payload.items()}
    old_version = current_version(volume_dir)
    if old_version is not None and read_payload(volume_dir) == wanted:
        return False
    new_dir = tempfile.mkdtemp(prefix=_timestamp(), dir=volume_dir)
    try:
        os.chmod(new_dir, 0o755)
        for path, f in wanted.items():
            _write_file(new_dir, path, f, fs_group)
        if fs_group is not None:
            os.chown(new_dir, -1, fs_group)
        tops = {p.split("/", 1)[0] for p in wanted}
        for top in sorted(tops):
            link = os.path.join(volume_dir, top)
            if not os.path.islink(link):
                os.symlink(os.path.join(DATA, top), link)
        tmp = os.path.join(volume_dir, DATA_TMP)
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.path.basename(new_dir), tmp)
        os.rename(tmp, os.path.join(volume_dir, DATA))         # the swap
    except BaseException:
        shutil.rmtree(new_dir, ignore_errors=True)
        raise
    _remove_stale(volume_dir, tops, os.path.basename(new_dir))
    return True


def _timestamp() -> str:
    now = dt.datetime.now(dt.UTC)
    return now.strftime("..%Y_%m_%d_%H_%M_%S.") + f"{now.microsecond:06d}"


def _mode(mode: int, fs_group: int | None) -> int:
    return mode | 0o440 if fs_group is not None else mode


def _write_file(root: str, path: str, f: File, fs_group: int | None) -> None:
    full = os.path.join(root, path)
    parent = os.path.dirname(full)
    if parent != root:
        os.makedirs(parent, mode=0o755, exist_ok=True)
        if fs_group is not None:
            d = parent
            while d != root:
                os.chown(d, -1, fs_group)
                d = os.path.dirname(d)
    fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(f.data)
        while view:
            view = view[os.write(fd, view):]
        if fs_group is not None:
            os.fchown(fd, -1, fs_group)
        os.fchmod(fd, f.mode)
    finally:
        os.close(fd)


def _remove_stale(volume_dir: str, tops: set[str], keep: str) -> None:
    """Top-level links of paths no longer in the payload, and old versions."""
    for entry in os.scandir(volume_dir):
        name = entry.name
        if name in (DATA, keep):
            continue
        if name.startswith(".."):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            elif name == DATA_TMP:
                os.unlink(entry.path)
        elif entry.is_symlink() and name not in tops \
                and os.readlink(entry.path).startswith(DATA + "/"):
            os.unlink(entry.path)
