"""API worker processes: more processes serving the same ports (SO_REUSEPORT).

    corral-controlplane --api-workers 2     # this process and one worker share the ports

The API server is stateless over etcd, so with ``--api-workers N`` the control
plane process starts N-1 more processes of itself (``python -m controlplane``
with the same flags plus ``--api-worker-of PID``): each opens its own etcd client and
watch fan-out and serves corral's gRPC API, the Kubernetes API and the
bootstrap port on the SAME ports, bound with SO_REUSEPORT, so the kernel spreads
incoming connections over the processes (and over the machine's cores). A
worker runs no loops (the scheduler and controllers stay in the leader-elected
main process), no compactor and no metrics server; it dies with its parent
(PR_SET_PDEATHSIG), and the parent starts it again if it exits on its own.
Every worker reads the same data directory (the cluster PKI and the Secret
keys, which each process re-reads when it meets a key it does not know).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

log = logging.getLogger(__name__)

# flags of the parent that a worker must not inherit (it gets its own below)
_DROP_FLAGS = frozenset({"--embedded-etcd"})
_DROP_WITH_VALUE = frozenset({"--api-workers", "--api-worker-of"})
RESTART_DELAY = 1.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-workers", type=int, default=1, metavar="N",
                   help="processes serving the APIs on the same ports (SO_REUSEPORT): this "
                        "one and N-1 workers (default %(default)s)")
    # a worker: the pid of the control plane process it serves beside
    p.add_argument("--api-worker-of", type=int, default=0, help=argparse.SUPPRESS)


def reuse_port(args: argparse.Namespace) -> bool:
    """Bind the API ports with SO_REUSEPORT (they are shared with workers)."""
    return bool(getattr(args, "api_worker_of", 0)) or getattr(args, "api_workers", 1) > 1


def die_with_parent(parent: int) -> None:
    """In a worker, first thing: SIGTERM when the parent goes; exit if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        sys.exit(f"corral-controlplane API worker: its parent {parent} is gone")


def worker_argv(parent_argv: Sequence[str], *, parent: int, etcd: str, listen: str,
                kube_listen: str, bootstrap_listen: str = "") -> list[str]:
    """The command line of a worker: the parent's flags, minus its own etcd and worker
    count, plus the bound addresses, no loops, no compactor, no metrics."""
    rest: list[str] = []
    skip = False
    for arg in parent_argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _DROP_FLAGS:
            continue
        if name in _DROP_WITH_VALUE:
            skip = "=" not in arg
            continue
        rest.append(arg)
    argv = [sys.executable, "-m", "controlplane", *rest, "--etcd", etcd, "--listen", listen,
            "--kube-listen", kube_listen or "0", "--metrics-listen", "0", "--no-loops",
            "--compaction-interval", "0", "--api-worker-of", str(parent)]
    if bootstrap_listen:
        argv += ["--bootstrap-listen", bootstrap_listen]
    return argv


class Workers:
    """N worker processes with one argv, started again when one exits on its own."""

    def __init__(self, argv: list[str], count: int) -> None:
        self.argv = argv
        self.count = count
        self.procs: list[asyncio.subprocess.Process] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        for i in range(self.count):
            self._tasks.append(asyncio.create_task(self._keep(i), name=f"api-worker-{i}"))

    async def _keep(self, index: int) -> None:
        while not self._stopping:
            proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=subprocess.DEVNULL)
            self.procs.append(proc)
            log.info("API worker %d started (pid %d)", index, proc.pid)
            code = await proc.wait()
            self.procs.remove(proc)
            if self._stopping:
                return
            log.warning("API worker %d (pid %d) exited with %s; starting it again",
                        index, proc.pid, code)
            await asyncio.sleep(RESTART_DELAY)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        for p in list(self.procs):
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        procs = list(self.procs)
        if procs:
            try:
                await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), timeout)
            except TimeoutError:
                for p in procs:
                    with contextlib.suppress(ProcessLookupError):
                        p.kill()
                await asyncio.gather(*(p.wait() for p in procs))
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
