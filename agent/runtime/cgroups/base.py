"""Types shared by the cgroup drivers and the helpers they both use."""

from __future__ import annotations

import abc
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from agent.runtime.errors import CgroupError

DEFAULT_CPU_PERIOD_US = 100_000
MIN_CPU_SHARES = 2
MAX_CPU_SHARES = 262_144
MIN_QUOTA_US = 1_000


def milli_cpu_to_shares(millis: int | None) -> int:
    """Kubernetes' MilliCPUToShares: requests.cpu -> cpu.shares."""
    if not millis:
        return MIN_CPU_SHARES
    return max(MIN_CPU_SHARES, min(MAX_CPU_SHARES, millis * 1024 // 1000))


def milli_cpu_to_quota(millis: int, period_us: int = DEFAULT_CPU_PERIOD_US) -> int:
    """Kubernetes' MilliCPUToQuota: limits.cpu -> cfs quota in microseconds."""
    return max(MIN_QUOTA_US, millis * period_us // 1000)


def shares_to_weight(shares: int) -> int:
    """Kubernetes' cgroup v2 conversion: cpu.shares [2, 262144] -> cpu.weight [1, 10000]."""
    shares = max(MIN_CPU_SHARES, min(MAX_CPU_SHARES, shares))
    return 1 + ((shares - 2) * 9999) // 262142


@dataclass(frozen=True)
class Limits:
    """What a cgroup enforces. ``None`` means "no limit" / "leave the default".

    ``devices``: None leaves device access alone (pod level: a v1 child can
    never get more than its parent), "default" allows only what a container's
    /dev holds, "all" is for privileged containers.
    """

    cpu_shares: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int = DEFAULT_CPU_PERIOD_US
    memory_bytes: int | None = None
    pids_max: int | None = None
    devices: str | None = None


@dataclass(frozen=True)
class CgroupStats:
    cpu_usage_ns: int = 0
    memory_usage_bytes: int = 0
    memory_working_set_bytes: int = 0
    pids_current: int = 0
    oom_kills: int = 0


def write(path: Path, value: str | int, optional: bool = False) -> None:
    """Write one value to a cgroup file; ``optional`` skips files this kernel lacks."""
    if optional and not path.exists():
        return
    try:   # one open and one write (no buffered text file: its fstat, ioctl and seek)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise CgroupError(f"write {value!r} to {path}: {e.strerror or e}") from e


def read(path: Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return default
    except OSError as e:
        raise CgroupError(f"read {path}: {e.strerror or e}") from e


def read_int(path: Path, default: int = 0) -> int:
    text = read(path)
    if not text or text == "max":
        return default
    return int(text.split()[0])


def read_keyed(path: Path) -> dict[str, int]:
    """Parse flat keyed files such as memory.stat, memory.events, cpu.stat."""
    out: dict[str, int] = {}
    for line in read(path).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def procs_of(path: Path) -> list[int]:
    return [int(p) for p in read(path / "cgroup.procs").split()]


def kill_procs(path: Path, deadline: float) -> None:
    """SIGKILL everything in cgroup.procs until it is empty or the deadline passes."""
    while True:
        pids = procs_of(path) if path.exists() else []
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            raise CgroupError(f"processes {pids} in {path} survived SIGKILL")
        time.sleep(0.01)


def rmdir_tree(path: Path) -> None:
    """Remove a cgroup directory and its child cgroups, deepest first."""
    if not path.is_dir():
        return
    for child in sorted((p for p in path.iterdir() if p.is_dir()), reverse=True):
        rmdir_tree(child)
    deadline = time.monotonic() + 2.0
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno == errno.EBUSY and time.monotonic() < deadline:
                time.sleep(0.01)  # exiting tasks still being released
                continue
            _rmdir_failed(path, e)
            return


def _rmdir_failed(path: Path, e: OSError) -> None:
    if e.errno == errno.ENOTEMPTY and not any(p.is_dir() for p in path.iterdir()):
        # a plain directory standing in for cgroupfs (tests): files block rmdir
        for p in path.iterdir():
            p.unlink()
        os.rmdir(path)
        return
    raise CgroupError(f"remove cgroup {path}: {e.strerror or e}") from e


class Driver(abc.ABC):
    """One cgroup version. ``rel`` is a path relative to each hierarchy root."""

    version: str = ""

    def __init__(self, root: Path) -> None:
        self.root = root

    @abc.abstractmethod
    def create(self, rel: str, limits: Limits) -> None: ...

    @abc.abstractmethod
    def apply(self, rel: str, limits: Limits) -> None: ...

    @abc.abstractmethod
    def procs_files(self, rel: str) -> list[str]:
        """The cgroup.procs files a process writes its pid to, to join ``rel``."""

    @abc.abstractmethod
    def oom_file(self, rel: str) -> str:
        """A file with an ``oom_kill N`` line counting OOM kills in ``rel``."""

    @abc.abstractmethod
    def pids(self, rel: str) -> list[int]: ...

    @abc.abstractmethod
    def stats(self, rel: str) -> CgroupStats: ...

    @abc.abstractmethod
    def kill_all(self, rel: str, timeout: float = 5.0) -> None: ...

    @abc.abstractmethod
    def remove(self, rel: str) -> None: ...

    @abc.abstractmethod
    def exists(self, rel: str) -> bool: ...

    @abc.abstractmethod
    def children(self, rel: str) -> list[str]:
        """Names of the child cgroups of ``rel`` (empty if it does not exist)."""

    @abc.abstractmethod
    def container_mounts(self) -> list[tuple[str, str, str]]:
        """(fstype, name under /sys/fs/cgroup, mount data) for a container's view."""
