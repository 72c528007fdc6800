"""The machine a benchmark ran on: CPU, memory, kernel, cgroup mode, load."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
from pathlib import Path
from typing import Any


def loadavg() -> tuple[float, float, float]:
    a, b, c = os.getloadavg()
    return (round(a, 2), round(b, 2), round(c, 2))


def cgroup_mode() -> str:
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return "v2 (unified)"
    if (root / "unified" / "cgroup.controllers").exists():
        return "v1 (hybrid: v2 mounted at /sys/fs/cgroup/unified)"
    return "v1"


def machine_info() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    mem_kb = 0
    with contextlib.suppress(OSError, StopIteration), open("/proc/meminfo") as f:
        mem_kb = int(next(ln for ln in f if ln.startswith("MemTotal:")).split()[1])
    return {
        "hostname": socket.gethostname(), "cpu_model": cpu or platform.processor(),
        "cores": os.cpu_count(), "memory_mib": mem_kb // 1024, "kernel": platform.release(),
        "cgroup_mode": cgroup_mode(), "python": platform.python_version(),
        "loadavg": loadavg(),
    }

