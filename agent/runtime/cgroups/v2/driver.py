"""The cgroup v2 driver: a single hierarchy at ``root`` (a cgroup2fs mount).

Creating ``a/b/c`` enables the controllers we use (cpu, memory, pids) in
``cgroup.subtree_control`` of every ancestor, as far as the parent's
``cgroup.controllers`` offers them; a controller missing from the host is
skipped (its limits are not applied).  Device access is not a controller on
v2: ``devices.py`` attaches an eBPF program to the cgroup.  Kill-all writes
``cgroup.kill`` (Linux 5.14+), else SIGKILLs ``cgroup.procs`` until it is empty.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType

from agent.runtime.cgroups.base import (
    CgroupStats,
    Driver,
    Limits,
    kill_procs,
    procs_of,
    read,
    rmdir_tree,
    write,
)
from agent.runtime.cgroups.v2 import cpu, devices, memory, pids

CONTROLLERS: tuple[ModuleType, ...] = (cpu, memory, pids)


def _names(path: Path) -> set[str]:
    """Controller names in a subtree_control file (a fake may keep the "+" we wrote)."""
    return {n.lstrip("+") for n in read(path).split()}


class V2Driver(Driver):
    version = "v2"

    def _path(self, rel: str) -> Path:
        return self.root / rel.strip("/")

    def _enable(self, parent: Path) -> set[str]:
        """Enable our controllers for ``parent``'s children; return the enabled names."""
        available = set(read(parent / "cgroup.controllers").split())
        wanted = [c.NAME for c in CONTROLLERS if c.NAME in available]
        enabled = _names(parent / "cgroup.subtree_control")
        missing = [n for n in wanted if n not in enabled]
        if missing:
            write(parent / "cgroup.subtree_control", " ".join(f"+{n}" for n in missing))
        return enabled | set(wanted)

    def create(self, rel: str, limits: Limits) -> None:
        parts = [p for p in rel.strip("/").split("/") if p]
        current = self.root
        for part in parts:
            self._enable(current)
            current = current / part
            current.mkdir(exist_ok=True)
        self.apply(rel, limits)

    def _active(self, rel: str) -> list[ModuleType]:
        path = self._path(rel)
        parent_ctrl = _names(path.parent / "cgroup.subtree_control")
        return [c for c in CONTROLLERS if c.NAME in parent_ctrl]

    def apply(self, rel: str, limits: Limits) -> None:
        path = self._path(rel)
        for c in self._active(rel):
            c.apply(path, limits)
        devices.apply(path, limits)

    def procs_files(self, rel: str) -> list[str]:
        return [str(self._path(rel) / "cgroup.procs")]

    def oom_file(self, rel: str) -> str:
        return str(self._path(rel) / "memory.events")

    def pids(self, rel: str) -> list[int]:
        path = self._path(rel)
        return procs_of(path) if path.is_dir() else []

    def stats(self, rel: str) -> CgroupStats:
        path = self._path(rel)
        merged: dict[str, int] = {}
        if path.is_dir():
            for c in CONTROLLERS:
                merged.update(c.stats(path))
        return CgroupStats(**merged)

    def kill_all(self, rel: str, timeout: float = 5.0) -> None:
        path = self._path(rel)
        if not path.is_dir():
            return
        deadline = time.monotonic() + timeout
        if (path / "cgroup.kill").exists():
            write(path / "cgroup.kill", 1)
        kill_procs(path, deadline)

    def remove(self, rel: str) -> None:
        if rel.strip("/"):
            rmdir_tree(self._path(rel))

    def exists(self, rel: str) -> bool:
        return self._path(rel).is_dir()

    def container_mounts(self) -> list[tuple[str, str, str]]:
        return [("cgroup2", "", "")]

    def children(self, rel: str) -> list[str]:
        path = self._path(rel)
        if not path.is_dir():
            return []
        return sorted(p.name for p in path.iterdir() if p.is_dir())
