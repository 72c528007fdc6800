"""Start and stop the cluster's daemons, by PID, and wait on conditions."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def start(argv: list[str], log_path: Path, netns: str | None = None,
          env: dict[str, str] | None = None) -> int:
    """Start a daemon in its own session (it outlives the CLI); return its PID.

    With `netns`, the process joins only that network namespace (nsenter
    --net): unlike `ip netns exec` it keeps the host's mount namespace, so the
    mounts an agent makes for its containers stay visible to its successor.
    """
    if netns is not None:
        argv = ["nsenter", f"--net=/var/run/netns/{netns}", "--", *argv]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        p = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ, **(env or {})},
        )
    return p.pid


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def stop(pid: int, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Signal a process we started, wait for it to go, SIGKILL if it lingers."""
    if not alive(pid):
        _reap(pid)
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    if not wait_for(lambda: not alive(pid), timeout):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_for(lambda: not alive(pid), 5.0)
    _reap(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def child_running(pid: int, binary: bytes) -> int:
    """The PID of a child of `pid` whose program (argv[0]) ends with `binary`; 0: none."""
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            try:
                argv0 = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue       # gone meanwhile
            if argv0.endswith(binary):
                return int(child)
    return 0


def wait_for(cond: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `cond` until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
