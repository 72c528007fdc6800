"""The runtime's public data types (what the pod sync loop builds and reads)."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

DEFAULT_PIDS_LIMIT = 1024


@dataclass(frozen=True)
class Resources:
    """cgroup limits of one container (or a pod, for the sandbox).

    ``cpu_request_millis`` is requests.cpu in millicores (cgroups/base.py's
    ``milli_cpu_to_shares`` makes cpu.shares of it, which v2 turns into
    cpu.weight; None leaves the kernel's default); ``cpu_quota_millis`` is
    limits.cpu in millicores; ``pids_limit`` None means the runtime default.
    """

    cpu_request_millis: int | None = None
    cpu_quota_millis: int | None = None
    memory_limit_bytes: int | None = None
    pids_limit: int | None = None


@dataclass(frozen=True)
class Mount:
    """A mount inside the container.

    ``kind='bind'``: ``host_path`` (a hostPath, or the directory returned by
    ``Runtime.empty_dir``) bound at ``container_path``.  ``kind='tmpfs'``: a
    private tmpfs of ``size_bytes``.
    """

    container_path: str
    host_path: str = ""
    read_only: bool = False
    kind: str = "bind"
    size_bytes: int | None = None


@dataclass
class ContainerConfig:
    """One container to start.

    ``lower_dirs`` are the read-only image layers in overlayfs order: the
    top-most layer first (an image manifest lists them base first, so reverse
    it); they are stacked under a per-container writable layer.
    ``user``/``group`` None mean 0 (image USER lookup is the caller's
    business).  ``stop_signal`` is sent to PID 1 by ``stop`` (note:
    PID 1 of a PID namespace only receives signals it has a handler for;
    SIGKILL after the grace period always works).  Without ``stdin`` the
    container's stdin is /dev/null (with ``tty``, the pty, whose input nobody
    writes); with it, a pipe (or the pty) the shim feeds from attach clients
    (``Runtime.attach``); ``stdin_once`` closes it when the first client that
    sent stdin detaches (Kubernetes' stdinOnce).  ``labels`` are the caller's
    (CRI's labels): kept in meta.json, handed back in ``ContainerInfo.labels``.
    """

    id: str
    pod_uid: str
    name: str
    pod_name: str
    lower_dirs: list[Path]
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str = "/"
    user: int | None = None
    group: int | None = None
    supplemental_groups: list[int] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    mounts: list[Mount] = field(default_factory=list)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    no_new_privs: bool = True
    read_only_rootfs: bool = False
    seccomp_profile: str = "RuntimeDefault"     # or "Unconfined"; privileged has none
    stop_signal: int = signal.SIGTERM
    log_path: Path | None = None
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    pod_uid: str
    name: str
    state: str                      # "created" | "running" | "exited"
    pid: int | None = None          # host pid of the container's PID 1
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None    # 128+n when killed by signal n
    signal: int | None = None
    oom_killed: bool = False
    reason: str = ""                # Completed | Error | OOMKilled | StartError | Unknown
    message: str = ""
    log_path: Path | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sandbox:
    pod_uid: str
    pod_name: str
    dir: Path
    ipc_ns: Path
    net_ns: Path
    owns_netns: bool
    cgroup: str


@dataclass(frozen=True)
class ContainerStats:
    id: str
    timestamp_ns: int
    cpu_usage_ns: int
    memory_usage_bytes: int
    memory_working_set_bytes: int
    pids: int
    oom_kills: int
