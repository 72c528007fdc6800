"""Atomic file writes: a reader sees the old content or the new, never a part.

    write_atomic(path, data)                         # 0600, fsync'd
    write_atomic(path, data, mode=0o644, durable=False)

The temporary file is created with `mode` from its first byte (no window with
looser bits; umask cannot narrow it) next to `path`, then renamed over it.
`durable=False` skips the fsync: for caches that a crash may lose, where the
page cache is enough (an agent crash keeps it; a machine crash takes the
processes the file describes too).

Import-light (only `os` at import time): the container runtime's shim writes
its state with `write_atomic`, and the shim stays without json, pathlib or typing.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the shim 1.5 MB
if TYPE_CHECKING:
    from typing import Any

    StrPath = str | os.PathLike[str]


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_atomic(path: StrPath, data: bytes, *, mode: int = 0o600,
                 durable: bool = True) -> None:
    """Replace `path` with `data` in one rename."""
    p = os.fspath(path)
    head, name = os.path.split(p)
    tmp = os.path.join(head, f".{name}.{os.getpid()}.tmp")
    _unlink_quietly(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)   # umask may have cleared bits that were asked for
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    os.replace(tmp, p)


def write_json_atomic(path: StrPath, obj: Any, *, mode: int = 0o600, durable: bool = True,
                      indent: int | None = None) -> None:
    """`write_atomic` of `obj` as JSON (keys sorted, so equal objects give equal files)."""
    import json

    data = json.dumps(obj, indent=indent, sort_keys=True).encode()
    write_atomic(path, data, mode=mode, durable=durable)


def read_json(path: StrPath) -> Any:
    """The JSON in `path` (FileNotFoundError and ValueError pass through)."""
    import json

    with open(path, "rb") as f:
        return json.loads(f.read())
