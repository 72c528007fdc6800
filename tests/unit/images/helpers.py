"""Builders for layer tars and archives used by the image unit tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass


@dataclass
class Entry:
    name: str
    kind: str = "file"  # file, dir, symlink, hardlink, chr, fifo
    data: bytes = b""
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    pax: dict[str, str] | None = None


def make_tar(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            ti.mode, ti.uid, ti.gid, ti.mtime = e.mode, e.uid, e.gid, 1_700_000_000
            if e.pax:
                ti.pax_headers = dict(e.pax)
            body = None
            if e.kind == "file":
                ti.size = len(e.data)
                body = io.BytesIO(e.data)
            elif e.kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = e.mode if e.mode != 0o644 else 0o755
            elif e.kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, e.link
            elif e.kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, e.link
            elif e.kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            elif e.kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            tf.addfile(ti, body)
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_for(diff_ids: list[str], arch: str = "amd64", cmd: list[str] | None = None) -> bytes:
    return json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": cmd or ["/bin/sh"], "Env": ["PATH=/bin"], "WorkingDir": "/",
                   "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGQUIT", "User": "1000"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()


def add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))
