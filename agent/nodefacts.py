"""What the machine offers the node: CPU and memory capacity (the agent's own
cgroup limits count), the cgroup version, OS image, architecture."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass


def cgroup_version() -> str:
    return "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1"


def _self_cgroup(controller: str) -> str:
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if (controller and controller in ctrls.split(",")) or \
                        (not controller and ctrls == ""):
                    return path
    except OSError:
        pass
    return "/"


def read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cpu_capacity_millis() -> int:
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    millis = n * 1000
    if cgroup_version() == "v2":
        raw = read(f"/sys/fs/cgroup{_self_cgroup('')}/cpu.max")
        if raw and not raw.startswith("max"):
            q, _, p = raw.partition(" ")
            millis = min(millis, int(int(q) * 1000 / int(p or 100000)))
    else:
        base = f"/sys/fs/cgroup/cpu{_self_cgroup('cpu')}".rstrip("/")
        quota = read(base + "/cpu.cfs_quota_us")
        period = read(base + "/cpu.cfs_period_us")
        if quota and period and int(quota) > 0:
            millis = min(millis, int(int(quota) * 1000 / int(period)))
    return max(millis, 1)


def memory_capacity_bytes() -> int:
    total = 0
    meminfo = read("/proc/meminfo") or ""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            total = int(line.split()[1]) * 1024
    if cgroup_version() == "v2":
        raw = read(f"/sys/fs/cgroup{_self_cgroup('')}/memory.max")
    else:
        raw = read(f"/sys/fs/cgroup/memory{_self_cgroup('memory')}".rstrip("/")
                    + "/memory.limit_in_bytes")
    if raw and raw.isdigit() and 0 < int(raw) < total:
        total = int(raw)
    return total


def os_image() -> str:
    for line in (read("/etc/os-release") or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip('"')
    return platform.system()


def arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


@dataclass
class NodeFacts:
    cpu_millis: int
    memory_bytes: int
    cgroup: str


def gather_facts() -> NodeFacts:
    return NodeFacts(cpu_capacity_millis(), memory_capacity_bytes(), cgroup_version())
