"""The cgroup v1 driver (also used on hybrid hosts, whose v2 tree has no controllers).

Each controller is its own hierarchy under ``root`` (``cpu``, ``cpuacct``,
``memory``, ``pids``, ``devices``, ``freezer``); a cgroup is the same relative
path created in each.  Hierarchies that are co-mounted (``cpu,cpuacct``
reached through symlinks) are joined once.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from pathlib import Path
from types import ModuleType

from agent.runtime.cgroups.base import (
    CgroupStats,
    Driver,
    Limits,
    kill_procs,
    procs_of,
    rmdir_tree,
)
from agent.runtime.cgroups.v1 import cpu, cpuacct, devices, freezer, memory, pids

CONTROLLERS: tuple[ModuleType, ...] = (cpu, cpuacct, memory, pids, devices, freezer)
REQUIRED = ("cpu", "memory", "pids")


class V1Driver(Driver):
    version = "v1"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.controllers = [c for c in CONTROLLERS if (root / c.NAME).is_dir()]

    def _path(self, ctrl: ModuleType, rel: str) -> Path:
        return self.root / ctrl.NAME / rel

    @functools.cached_property
    def _real_roots(self) -> list[str]:
        """Each controller's hierarchy directory, symlinks resolved (``cpu`` and
        ``cpuacct`` -> ``cpu,cpuacct`` when co-mounted). Resolved once: realpath walks
        every component of a path with lstat, and a cgroup below a hierarchy has no
        symlinks, so a cgroup's hierarchy is its controller's."""
        return [os.path.realpath(self.root / c.NAME) for c in self.controllers]

    def _is_root_path(self, rel: str) -> bool:
        return rel.strip("/") == ""

    def create(self, rel: str, limits: Limits) -> None:
        """Make ``rel`` in every hierarchy and apply ``limits``; in a cgroup made just
        now, a value equal to the kernel's default for a new cgroup is not written
        (the controllers' ``fresh``): the same limits, fewer writes."""
        for c in self.controllers:
            path = self._path(c, rel)
            try:
                os.mkdir(path)
                fresh = True
            except FileExistsError:
                fresh = False
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.mkdir(path)
                    fresh = True
                except FileExistsError:
                    fresh = False
            c.apply(path, limits, fresh)

    def apply(self, rel: str, limits: Limits) -> None:
        for c in self.controllers:
            c.apply(self._path(c, rel), limits)

    def procs_files(self, rel: str) -> list[str]:
        seen: set[str] = set()
        out: list[str] = []
        for c, real in zip(self.controllers, self._real_roots, strict=True):
            if real not in seen:
                seen.add(real)
                out.append(str(self._path(c, rel) / "cgroup.procs"))
        return out

    def oom_file(self, rel: str) -> str:
        return str(self._path(memory, rel) / "memory.oom_control")

    def pids(self, rel: str) -> list[int]:
        found: set[int] = set()
        for c in self.controllers:
            path = self._path(c, rel)
            if path.is_dir():
                found.update(procs_of(path))
        return sorted(found)

    def stats(self, rel: str) -> CgroupStats:
        merged: dict[str, int] = {}
        for c in self.controllers:
            path = self._path(c, rel)
            if path.is_dir():
                merged.update(c.stats(path))
        return CgroupStats(**merged)

    def kill_all(self, rel: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        frozen = self._path(freezer, rel)
        use_freezer = freezer in self.controllers and frozen.is_dir()
        if use_freezer:
            # frozen tasks cannot fork away from the kill; they die once thawed
            try:
                if freezer.set_state(frozen, "FROZEN"):
                    for pid in procs_of(frozen):
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            finally:
                freezer.set_state(frozen, "THAWED")
        for c in self.controllers:
            path = self._path(c, rel)
            if path.is_dir():
                kill_procs(path, deadline)

    def remove(self, rel: str) -> None:
        if self._is_root_path(rel):
            return
        for c in self.controllers:
            rmdir_tree(self._path(c, rel))

    def exists(self, rel: str) -> bool:
        return any(self._path(c, rel).is_dir() for c in self.controllers)

    def container_mounts(self) -> list[tuple[str, str, str]]:
        """One mount per hierarchy we join (``cpu,cpuacct`` once if co-mounted)."""
        out: list[tuple[str, str, str]] = []
        for real_root in self._real_roots:
            real = os.path.basename(real_root)
            if not any(m[1] == real for m in out):
                out.append(("cgroup", real, real))
        return out

    def children(self, rel: str) -> list[str]:
        names: set[str] = set()
        for c in self.controllers:
            path = self._path(c, rel)
            if path.is_dir():
                names.update(p.name for p in path.iterdir() if p.is_dir())
        return sorted(names)
