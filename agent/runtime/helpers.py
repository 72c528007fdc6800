"""Small helpers shared by the agent-side modules: ids, helper processes, waiting."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from agent.runtime.cgroups import CgroupManager
from agent.runtime.errors import InvalidConfig
from agent.runtime.spec import DEFAULT_PATH

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_id(kind: str, value: str) -> str:
    if not _ID.match(value):
        raise InvalidConfig(
            f"{kind} {value!r}: want 1-128 of [A-Za-z0-9_.-], starting with a letter or digit"
        )
    return value


def remove_cgroup(cgroups: CgroupManager, rel: str) -> None:
    """``cgroups.remove(rel)``, first tried the quick way: rmdir ``rel`` in every
    hierarchy, which the kernel refuses (EBUSY) while a process or a child cgroup is
    in it.  Only then the careful way: freeze, kill, wait, remove, which costs a
    freezer round trip and a scan of every hierarchy (5-10 ms per cgroup on v1)."""
    left = False
    for procs in cgroups.procs_files(rel):
        try:
            os.rmdir(os.path.dirname(procs))
        except FileNotFoundError:
            continue
        except OSError:
            left = True
    if left:
        cgroups.remove(rel)


def helper_argv(module: str, *args: str) -> list[str]:
    """A lean helper: no site-packages, only our package on the path."""
    return [sys.executable, "-S", "-m", f"agent.runtime.{module}", *args]


def helper_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", DEFAULT_PATH), "PYTHONPATH": str(PROJECT_ROOT)}


def run_helper(module: str, *args: str, timeout: float = 30.0) -> None:
    proc = subprocess.run(helper_argv(module, *args), env=helper_env(), capture_output=True,
                          timeout=timeout, cwd="/", check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise OSError(f"{module} failed: {err[-1] if err else proc.returncode}")


def wait_fd(fd: int, timeout: float) -> bool:
    """Wait until ``fd`` (a pidfd or pipe) is readable; False on timeout."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0.0, timeout) * 1000))


def wait_pid_exit(pid: int, timeout: float) -> bool:
    """True once ``pid`` is gone (exited, zombie counts as gone) within ``timeout``."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return wait_fd(fd, timeout)
    finally:
        os.close(fd)


def read_until_eof(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        if not wait_fd(fd, deadline - time.monotonic()):
            raise TimeoutError("no answer from the shim in time")
        chunk = os.read(fd, 65536)
        if not chunk:
            return data
        data += chunk
