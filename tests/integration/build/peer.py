"""buildah as a peer of corral's builder: build the same Dockerfile, read both images with
corral's own image code, and put their configs and file trees in a comparable form.

buildah (Debian's) runs offline here with `--storage-driver vfs --isolation chroot`; its
storage, run root and temp files live under one directory that `close()` removes (after
`buildah rm --all`, so no working container or mount is left). Its image comes back as a
`docker save` archive (`buildah push ... docker-archive:`), loaded into corral's store with
`ImageService.load_archive`, so the same code reads both images.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from agent.build.view import View
from agent.runtime.mountinfo import unmount_under

BUILDAH = shutil.which("buildah")
# xattrs a layer carries and an image comparison looks at (corral's unpack keeps these)
XATTRS = ("security.capability",)


class Buildah:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="corral-buildah-"))
        self.env = {**os.environ, "TMPDIR": str(self.dir / "tmp"), "BUILDAH_ISOLATION": "chroot"}
        (self.dir / "tmp").mkdir()
        self.base = [str(BUILDAH), "--root", str(self.dir / "storage"), "--runroot",
                     str(self.dir / "run"), "--storage-driver", "vfs"]

    def _run(self, *args: str, timeout: float = 300) -> str:
        r = subprocess.run([*self.base, *args], capture_output=True, text=True, env=self.env,
                           timeout=timeout, check=False)
        if r.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args)} exited {r.returncode}:\n"
                                 f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return r.stdout

    def bud_argv(self, context: Path, tag: str, target: str = "",
                 build_args: dict[str, str] | None = None) -> list[str]:
        argv = [*self.base, "bud", "--isolation", "chroot", "--layers", "--format", "docker",
                "--tls-verify=false", "-t", tag, "-f", str(context / "Dockerfile")]
        if target:
            argv += ["--target", target]
        for k, v in (build_args or {}).items():
            argv += ["--build-arg", f"{k}={v}"]
        return [*argv, str(context)]

    def bud(self, context: Path, tag: str, target: str = "",
            build_args: dict[str, str] | None = None) -> str:
        return self._run(*self.bud_argv(context, tag, target, build_args)[len(self.base):])

    def export(self, tag: str, name: str) -> Path:
        """The image as a `docker save` tar naming it `name`."""
        out = self.dir / f"{hashlib.sha256(name.encode()).hexdigest()[:12]}.tar"
        out.unlink(missing_ok=True)
        self._run("push", "--quiet", tag, f"docker-archive:{out}:{name}")
        return out

    def close(self) -> None:
        try:
            for verb in (["rm", "--all"], ["rmi", "--all", "--force"]):
                subprocess.run([*self.base, *verb], capture_output=True, env=self.env,
                               timeout=120, check=False)
        finally:
            unmount_under(str(self.dir))
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- what is compared ----------------------------------------------------------------

CONFIG_KEYS = ("Cmd", "Entrypoint", "Env", "WorkingDir", "User", "ExposedPorts", "Labels",
               "Volumes", "StopSignal", "Healthcheck")


def config_fields(doc: dict[str, Any]) -> dict[str, Any]:
    c = doc.get("config") or {}
    return {k: c.get(k) or None for k in CONFIG_KEYS}


def history(doc: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(str(h.get("created_by", "")), bool(h.get("empty_layer")))
            for h in doc.get("history") or []]


def _xattrs(path: str) -> tuple[tuple[str, str], ...]:
    out = []
    for name in XATTRS:
        try:
            out.append((name, os.getxattr(path, name, follow_symlinks=False).hex()))
        except OSError:
            continue
    return tuple(out)


def tree(view: View) -> dict[str, tuple[object, ...]]:
    """Every path of the merged image: (type, mode, uid, gid, link target or digest, xattrs)."""
    out: dict[str, tuple[object, ...]] = {}

    def walk(path: str) -> None:
        for name in view.listdir(path):
            p = f"{path.rstrip('/')}/{name}"
            e = view.lookup(p)
            if e is None:
                continue
            st = e.st
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[p] = ("link", 0, st.st_uid, st.st_gid, os.readlink(e.path), ())
            elif stat.S_ISDIR(st.st_mode):
                out[p] = ("dir", oct(mode), st.st_uid, st.st_gid, "", _xattrs(e.path))
                walk(p)
            elif stat.S_ISREG(st.st_mode):
                with open(e.path, "rb") as f:
                    digest = hashlib.file_digest(f, "sha256").hexdigest()[:16]
                out[p] = ("file", oct(mode), st.st_uid, st.st_gid, digest, _xattrs(e.path))
            else:
                out[p] = ("other", oct(mode), st.st_uid, st.st_gid, "", ())
    walk("/")
    return out


def tree_diff(ours: dict[str, tuple[object, ...]], theirs: dict[str, tuple[object, ...]]
              ) -> dict[str, tuple[object, object]]:
    """path -> (corral's entry, buildah's entry) where they differ (None: missing)."""
    return {p: (ours.get(p), theirs.get(p)) for p in sorted(set(ours) | set(theirs))
            if ours.get(p) != theirs.get(p)}
