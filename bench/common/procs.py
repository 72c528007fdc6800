"""Processes of the system under test: running commands in its tree, their memory
(RSS, smaps_rollup), process trees, and cgroup directories left behind."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bench.common.trees import SYSTEM_REPO, system_env


def run(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 300,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(list(argv), env=env or system_env(), capture_output=True, text=True,
                       timeout=timeout, cwd=SYSTEM_REPO)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))


def smaps_rollup(pid: int) -> dict[str, int]:
    """kB fields of /proc/<pid>/smaps_rollup (Rss, Pss, Private_Dirty, ...)."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for ln in f:
            parts = ln.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of `pids` (and their reaped children), seconds."""
    total = 0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in f[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/*/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for kids in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(k) for k in kids.read_text().split()]
    return out


def remove_cgroup_dirs(name: str, root: Path = Path("/sys/fs/cgroup")) -> list[str]:
    """rmdir ``<hierarchy>/<name>`` and everything under it in every hierarchy
    (cgroup v1 has one per controller; runc also makes them in blkio, systemd...).
    Returns what could not be removed."""
    left: list[str] = []
    for base in [root, *(p for p in root.iterdir() if p.is_dir())] if root.is_dir() else []:
        top = base / name
        if not top.is_dir():
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                left.append(dirpath)
    return left
