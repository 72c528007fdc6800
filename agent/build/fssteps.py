"""The instructions that change files: RUN, COPY, ADD and WORKDIR's directory.

Each is split in two: `prepare` works out everything that decides the step's
result (the cache key's text) without changing anything; `make` produces the
layer directory (None: the step changed nothing). The executor asks the cache
between the two.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agent.build.copying import Copier, CopyOptions
from agent.build.errors import ContextError, StepFailed
from agent.build.ports import Layer, RunnerPort, RunSpec
from agent.build.sources import digest, find
from agent.build.view import View

# what the runtime makes in a container's root for its mounts; not part of a RUN's layer
MOUNT_STUBS = ("proc", "sys", "dev", "etc/hosts", "etc/hostname", "etc/resolv.conf")
_URL = ("http://", "https://", "git@", "git://", "ftp://")


def lookup_id(view: View, file: str, name: str) -> int | None:
    entry = view.lookup(f"/etc/{file}")
    if entry is None or not stat.S_ISREG(entry.st.st_mode):
        return None
    with open(entry.path, errors="replace") as f:
        for line in f:
            parts = line.split(":")
            if len(parts) > 2 and parts[0] == name and parts[2].isdigit():
                return int(parts[2])
    return None


def resolve_owner(view: View, spec: str, what: str) -> tuple[int, int]:
    """--chown=user[:group] (names from the image's /etc/passwd and /etc/group)."""
    u, _, g = spec.partition(":")
    uid = int(u) if u.isdigit() else lookup_id(view, "passwd", u)
    if uid is None:
        raise ContextError(f"{what}: unknown user {u!r} (not in the image's /etc/passwd)")
    if not g:
        gid = uid if u.isdigit() else _primary_gid(view, u, uid)
        return uid, gid
    group = int(g) if g.isdigit() else lookup_id(view, "group", g)
    if group is None:
        raise ContextError(f"{what}: unknown group {g!r} (not in the image's /etc/group)")
    return uid, group


def _primary_gid(view: View, user: str, uid: int) -> int:
    entry = view.lookup("/etc/passwd")
    if entry is not None:
        with open(entry.path, errors="replace") as f:
            for line in f:
                parts = line.split(":")
                if len(parts) > 3 and parts[0] == user and parts[3].isdigit():
                    return int(parts[3])
    return uid


@dataclass
class CopyPlan:
    src: View
    paths: list[str]
    dest: str
    many: bool
    opts: CopyOptions
    what: str
    key_text: str


def plan_copy(kw: str, srcs: list[str], dest: str, workdir: str, flags: dict[str, str],
              src_view: View, in_context: bool, image: View, what: str) -> CopyPlan:
    for s in srcs:
        if s.startswith(_URL):
            if kw == "ADD":
                raise ContextError(f"{what}: {s}: builds are offline here, so ADD cannot fetch "
                                   f"a URL; put the file in the build context and COPY it")
            raise ContextError(f"{what}: source {s!r} cannot be a URL for COPY")
    if not dest.startswith("/"):
        trail = "/" if dest.endswith("/") or dest in (".", "") else ""
        dest = posixpath.normpath(posixpath.join(workdir or "/", dest)) + trail
        dest = dest.replace("//", "/")
    paths = find(src_view, srcs, in_context, what)
    many = len(paths) > 1 or any(any(c in s for c in "*?[") for s in srcs)
    owner = resolve_owner(image, flags["chown"], what) if flags.get("chown") else None
    mode = int(flags["chmod"], 8) if flags.get("chmod") else None
    opts = CopyOptions(owner, mode, extract=kw == "ADD")
    key = json.dumps([kw, srcs, dest, owner, mode, flags.get("from", ""),
                      digest(src_view, paths)])
    return CopyPlan(src_view, paths, dest, many, opts, what, key)


def make_copy(cp: CopyPlan, layers: list[Layer], layer_dir: str) -> None:
    image = View([*(la.dir for la in layers), layer_dir])
    # owners as in the source (BuildKit's): a context's files are root's (dropped on
    # unpacking); a stage's or an image's keep theirs; --chown overrides both
    Copier(layer_dir, image, cp.opts, cp.what).copy(cp.src, cp.paths, cp.dest, cp.many,
                                                     keep_owner=True)


def make_workdir(path: str, owner: tuple[int, int] | None, layers: list[Layer],
                 layer_dir: str) -> None:
    image = View([*(la.dir for la in layers), layer_dir])
    existing = image.lookup(image.resolve(path))
    if existing is not None and stat.S_ISDIR(existing.st.st_mode):
        return
    Copier(layer_dir, image, CopyOptions(owner=owner), f"WORKDIR {path}").ensure_dir(path)


def prune_stubs(upper: str, image: View) -> None:
    """Drop the empty mount points the runtime made where the image had nothing."""
    for rel in MOUNT_STUBS:
        p = os.path.join(upper, rel)
        if image.lookup("/" + rel) is not None or not os.path.lexists(p):
            continue
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode) and not os.listdir(p):
            os.rmdir(p)
        elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(p)
    etc = os.path.join(upper, "etc")
    if image.lookup("/etc") is None and os.path.isdir(etc) and not os.listdir(etc):
        os.rmdir(etc)


async def run_step(runner: RunnerPort, spec: RunSpec, step: str, command: str,
                   on_output: Callable[[bytes], Awaitable[None]],
                   make_layer: Callable[[str], Awaitable[Layer | None]]) -> Layer | None:
    """Run the step's container; its changes as a layer (None: it changed nothing)."""
    async with runner.run(spec) as h:
        tail = bytearray()
        async for chunk in h.output():
            tail = (tail + chunk)[-4096:]
            await on_output(chunk)
        code = await h.wait()
        if code != 0:
            raise StepFailed(step, command, code)
        prune_stubs(h.upper_dir, View(list(spec.layer_dirs)))
        if not os.listdir(h.upper_dir):
            return None
        return await make_layer(h.upper_dir)


class Scratch:
    """A directory for one step's new layer, removed when done."""

    def __init__(self, work_dir: str) -> None:
        self.path = tempfile.mkdtemp(prefix="layer-", dir=work_dir)
        os.chmod(self.path, 0o755)

    def __enter__(self) -> str:
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
