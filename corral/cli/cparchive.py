"""The archive `corral cp` reads from a container, checked whole before a byte is written.

    plan = plan(tar, "nginx", "./out")      # every member -> its local path, or Escape
    extract(tar, plan)

The container's `tar cf - -C PARENT BASE` names its members BASE and BASE/...; BASE
becomes the destination (or DEST/BASE when DEST is an existing directory and BASE a
file). A member named otherwise, one that climbs out with `..`, a symbolic or hard
link whose target lies outside the destination, and anything but files, directories
and links is an Escape: nothing is written.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
from dataclasses import dataclass


class Escape(ValueError):
    """A member of the archive would land outside the destination."""


@dataclass(frozen=True)
class Step:
    member: tarfile.TarInfo
    path: str          # where it goes on this machine
    link: str = ""     # a hard link's target, on this machine


def _inside(root: str, path: str) -> bool:
    root, path = os.path.normpath(root), os.path.normpath(path)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _local(name: str, base: str, root: str) -> str:
    """The local path of member `name`, or Escape."""
    clean = name[2:] if name.startswith("./") and base != "." else name
    clean = clean.rstrip("/")
    if base == ".":
        rel = "" if clean in (".", "") else clean.removeprefix("./")
    elif clean == base:
        rel = ""
    elif clean.startswith(base + "/"):
        rel = clean[len(base) + 1:]
    else:
        raise Escape(f'file "{name}" is outside target destination')
    if posixpath.isabs(rel) or ".." in rel.split("/"):
        raise Escape(f'file "{name}" is outside target destination')
    path = os.path.join(root, *[p for p in rel.split("/") if p not in ("", ".")])
    if not _inside(root, path):
        raise Escape(f'file "{name}" is outside target destination')
    return path


def plan(tar: tarfile.TarFile, base: str, dest: str) -> list[Step]:
    members = tar.getmembers()
    root = os.path.abspath(dest)
    top = [m for m in members if m.name.rstrip("/").removeprefix("./") == base
           or (base == "." and m.name.rstrip("/") in (".", ""))]
    if top and top[0].isfile() and os.path.isdir(root):
        root = os.path.join(root, posixpath.basename(base))
    steps = []
    for m in members:
        path = _local(m.name, base, root)
        if m.issym():
            target = os.path.normpath(os.path.join(os.path.dirname(path), m.linkname))
            if posixpath.isabs(m.linkname) or not _inside(root, target):
                raise Escape(f'link "{m.name}" -> "{m.linkname}" points outside target '
                             "destination")
        elif m.islnk():
            steps.append(Step(m, path, _local(m.linkname, base, root)))
            continue
        elif not (m.isfile() or m.isdir()):
            raise Escape(f'file "{m.name}" is not a regular file, directory or link')
        steps.append(Step(m, path))
    return steps


def extract(tar: tarfile.TarFile, steps: list[Step]) -> None:
    for s in steps:
        m = s.member
        if m.isdir():
            os.makedirs(s.path, exist_ok=True)
            os.chmod(s.path, (m.mode & 0o777) | 0o700)
            continue
        os.makedirs(os.path.dirname(s.path) or ".", exist_ok=True)
        if os.path.lexists(s.path) and not os.path.isdir(s.path):
            os.unlink(s.path)
        if m.issym():
            os.symlink(m.linkname, s.path)
        elif m.islnk():
            os.link(s.link, s.path)
        else:
            src = tar.extractfile(m)
            assert src is not None
            with src, open(s.path, "wb") as f:
                shutil.copyfileobj(src, f)
            os.chmod(s.path, m.mode & 0o777)


def no_preserve(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """For `--no-preserve`: the files belong to the container's user, modes by default."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.isdir():
        info.mode = 0o755
    elif info.isfile():
        info.mode = 0o755 if info.mode & 0o111 else 0o644
    return info
