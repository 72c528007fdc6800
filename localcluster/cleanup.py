"""Undo what a local cluster made on the host: processes in its cgroups, its
mounts, its cgroup subtrees, its network namespaces and links.

Only things under the cluster's own names are touched: cgroups under
`corral/<cluster>`, mounts under the cluster's directory, namespaces named
`corral-<cluster>-...`.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from localcluster import netns, procs

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_dirs(rel: str) -> list[Path]:
    """Every hierarchy's directory for the relative cgroup path `rel`."""
    out = []
    if (CGROUP_ROOT / "cgroup.controllers").exists():       # pure v2
        out.append(CGROUP_ROOT / rel)
    else:
        for h in sorted(CGROUP_ROOT.iterdir()):
            if h.is_dir() and not h.is_symlink():
                out.append(h / rel)
    return [d for d in out if d.is_dir()]


def _procs_under(d: Path) -> set[int]:
    pids: set[int] = set()
    for root, _dirs, files in os.walk(d):
        if "cgroup.procs" in files:
            try:
                text = (Path(root) / "cgroup.procs").read_text()
            except OSError:
                continue
            pids.update(int(x) for x in text.split())
    return pids


def kill_cgroup_tree(rel: str) -> None:
    """SIGKILL every process in the subtree, until it is empty, then rmdir it."""
    dirs = cgroup_dirs(rel)
    for _ in range(50):
        pids: set[int] = set()
        for d in dirs:
            pids |= _procs_under(d)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        procs.wait_for(lambda: not any(_procs_under(d) for d in dirs), 2.0)
    for d in dirs:
        for root, subdirs, _files in os.walk(d, topdown=False):
            for s in subdirs:
                try:
                    os.rmdir(Path(root) / s)
                except OSError:
                    pass
        try:
            os.rmdir(d)
        except OSError:
            pass


def mounts_under(prefix: str) -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == prefix or mp.startswith(prefix.rstrip("/") + "/"):
                out.append(mp)
    return out


def unmount_under(prefix: str) -> None:
    for _ in range(5):
        mps = mounts_under(prefix)
        if not mps:
            return
        for mp in sorted(mps, key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True, check=False)


def remove_namespaces(prefix: str) -> None:
    for name in netns.namespaces_with_prefix(prefix):
        try:
            netns.delete_ns(name)
        except OSError:
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)


def remove_if_empty(rel: str) -> None:
    """rmdir a cgroup in every hierarchy where it has no children left."""
    for d in cgroup_dirs(rel):
        try:
            os.rmdir(d)
        except OSError:
            pass
