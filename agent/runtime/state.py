"""On-disk state of containers and pod sandboxes, written atomically.

Layout under the runtime's ``state_dir``::

    containers/<id>/meta.json    identity, cgroup, labels (written once, at create)
    containers/<id>/spec.json    what the shim was asked to run (agent writes)
    containers/<id>/state.json   what happened (the shim writes; write-then-rename)
    containers/<id>/shim.log     the shim's own errors
    containers/<id>/{rootfs,upper,work}   overlay mount point and writable layer
    pods/<uid>/sandbox.json      the pod sandbox (agent writes)
    pods/<uid>/ns/{ipc,net}      namespace files bind-mounted by the sandbox
    pods/<uid>/volumes/<name>    emptyDir volumes
    zygote.sock, zygote.log      the shim zygote's socket and stderr (zygote.py)

Writes are write-then-rename without fsync: the rename makes them atomic for
every reader, and a process crash keeps the page cache.  Only a host crash
could lose one, and then every process these files describe is gone too
(the agent's start-up ``cleanup_orphans`` removes what is left).  An fsync
costs 1-5 ms here, two of them on the path to "running".

This module is imported by the shim: nothing heavy at import time (no json,
pathlib or typing; the shim writes JSON with the small encoder below).
"""

from __future__ import annotations

import os

from common.files import write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    StrPath = str | os.PathLike[str]


def _quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def encode(obj: Any) -> str:
    """JSON for dicts, lists, str, int, float, bool and None (all the state holds)."""
    if obj is None:
        return "null"
    if obj is True or obj is False:
        return "true" if obj else "false"
    if isinstance(obj, int):
        return str(int(obj))  # int() also turns IntEnums such as signals into numbers
    if isinstance(obj, float):
        return repr(float(obj))
    if isinstance(obj, str):
        return _quote(obj)
    if isinstance(obj, list | tuple):
        return "[" + ", ".join(encode(v) for v in obj) + "]"
    if isinstance(obj, dict):
        items = sorted(obj.items())
        return "{\n" + ",\n".join(f" {_quote(str(k))}: {encode(v)}" for k, v in items) + "\n}"
    raise TypeError(f"cannot encode {type(obj).__name__}")


def write_json_atomic(path: StrPath, obj: Any) -> None:
    """`obj` as JSON (the small encoder above), private, renamed into place, no fsync."""
    write_atomic(path, encode(obj).encode(), durable=False)


def read_json(path: StrPath) -> dict[str, Any] | None:
    import json

    try:
        with open(path) as f:
            obj = json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


class RecordCache:
    """Parsed records by key, parsed again only when their file changed. For files only
    ever replaced whole (written beside and renamed over, as state.json is): a new
    version is a new inode, allocated while the old one still exists, so its stat
    differs from the one remembered; a file replaced between the stat and the read is
    remembered under the old stat, and the next read parses it again."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[int, int, int, int], dict[str, Any]]] = {}

    def read(self, key: str, path: StrPath) -> dict[str, Any]:
        """The record at ``path`` (a copy: the caller may change it); {} if unreadable."""
        return self.read_signed(key, path)[1]

    def read_signed(self, key: str,
                    path: StrPath) -> tuple[tuple[int, int, int, int] | None, dict[str, Any]]:
        """`read`, and the file's signature (None: no file): the same signature, the
        same record."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._known.pop(key, None)
            return None, {}
        sig = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        known = self._known.get(key)
        if known is not None and known[0] == sig:
            return sig, dict(known[1])
        rec = read_json(path) or {}
        self._known[key] = (sig, dict(rec))
        return sig, rec

    def forget(self, key: str) -> None:
        self._known.pop(key, None)


def _stat_fields(pid: int) -> list[bytes] | None:
    """/proc/<pid>/stat from field 3 (state) on; None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2 :].split()


def proc_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: tells a live pid from a reused one."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def alive(pid: int | None, start_ticks: int | None) -> bool:
    """True if ``pid`` runs and is the same process (not a zombie, not reused)."""
    if not pid:
        return False
    fields = _stat_fields(pid)     # one read: the start time and the state together
    if fields is None or (start_ticks is not None and int(fields[19]) != start_ticks):
        return False
    return fields[0] != b"Z"
