"""Test doubles for the runtime: a Syscalls that records, fake cgroup trees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.runtime.syscalls import Syscalls


class RecordingSyscalls(Syscalls):
    """Records every call as (name, args) and does nothing."""

    def __init__(self) -> None:  # no libc needed
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _rec(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def unshare(self, flags: int) -> None:
        self._rec("unshare", flags)

    def setns(self, fd: int, nstype: int) -> None:
        self._rec("setns", nstype)

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        self._rec("mount", source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int = 0) -> None:
        self._rec("umount2", target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._rec("pivot_root", new_root, put_old)

    def sethostname(self, name: str) -> None:
        self._rec("sethostname", name)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0,
              arg5: int = 0) -> int:
        self._rec("prctl", option, arg2)
        return 0

    def capget(self) -> tuple[int, int, int]:
        return (0, 0, 0)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._rec("capset", effective, permitted, inheritable)

    def close_range(self, first: int, last: int, flags: int = 0) -> None:
        self._rec("close_range", first, last, flags)


V2_FILES = ("cgroup.procs", "cgroup.kill", "cpu.max", "cpu.weight", "cpu.stat", "memory.max",
            "memory.swap.max", "memory.events", "memory.current", "memory.stat", "pids.max",
            "pids.current", "cgroup.subtree_control")


def make_cgroup2(root: Path, rels: list[str]) -> None:
    """A directory laid out like a cgroup2fs mount, with ``rels`` pre-created."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text("1\n")
    for rel in rels:
        parts = rel.strip("/").split("/")
        for i in range(1, len(parts) + 1):  # every level has the interface files
            d = root.joinpath(*parts[:i])
            d.mkdir(exist_ok=True)
            for name in V2_FILES:
                (d / name).touch()
            (d / "cgroup.controllers").write_text("cpu memory pids\n")


V1_FILES = {
    "cpu": ("cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"),
    "cpuacct": ("cpuacct.usage",),
    "memory": ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.usage_in_bytes",
               "memory.stat", "memory.oom_control", "memory.swappiness"),
    "pids": ("pids.max", "pids.current"),
}


def make_cgroup1(root: Path, rels: list[str], hybrid: bool = True) -> None:
    """Per-controller hierarchies (and, when hybrid, an empty unified mount)."""
    for ctrl, files in V1_FILES.items():
        (root / ctrl).mkdir(parents=True, exist_ok=True)
        for rel in ["", *rels]:
            d = root / ctrl / rel
            d.mkdir(parents=True, exist_ok=True)
            (d / "cgroup.procs").touch()
            for name in files:
                (d / name).touch()
    if hybrid:
        (root / "unified").mkdir(exist_ok=True)
        (root / "unified" / "cgroup.controllers").write_text("")
