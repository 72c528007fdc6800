"""What the agent hands the shim: a fully resolved spec.

Everything here is already decided (paths, capability mask, uid, masked
paths); the shim and the container init only carry it out.  The agent
writes it twice: ``spec.json`` for people and for exec, ``spec.marshal``
for the shim, which reads it without importing this module (dataclasses,
json and pathlib would double the shim's memory).
"""

from __future__ import annotations

import dataclasses
import json
import marshal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.runtime.defaults import DEFAULT_PATH, MASKED_PATHS, READONLY_PATHS

__all__ = ["DEFAULT_PATH", "InitSpec", "MountSpec", "ShimSpec"]


@dataclass
class MountSpec:
    """One mount inside the container: ``kind`` is 'bind' or 'tmpfs'."""

    target: str
    kind: str = "bind"
    source: str = ""
    read_only: bool = False
    size_bytes: int | None = None


@dataclass
class InitSpec:
    """What the container's init does between fork and exec."""

    container_id: str
    hostname: str
    argv: list[str]
    env: list[str]
    rootfs: str
    lower_dirs: list[str]           # overlayfs order: the top-most layer first
    upper_dir: str
    work_dir: str
    working_dir: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    cap_mask: int = 0
    privileged: bool = False
    no_new_privs: bool = True
    read_only_rootfs: bool = False
    seccomp_profile: str = "RuntimeDefault"    # or "" / "Unconfined": no filter
    mounts: list[MountSpec] = field(default_factory=list)
    cgroup_procs: list[str] = field(default_factory=list)
    # [fstype, name under /sys/fs/cgroup ("" = the mount point itself), data]
    cgroup_mounts: list[list[str]] = field(default_factory=list)
    ipc_ns: str | None = None
    net_ns: str | None = None
    masked_paths: list[str] = field(default_factory=lambda: list(MASKED_PATHS))
    readonly_paths: list[str] = field(default_factory=lambda: list(READONLY_PATHS))
    tty: bool = False


@dataclass
class ShimSpec:
    init: InitSpec
    state_path: str
    log_path: str
    oom_file: str = ""
    stdin: bool = False             # a stdin the shim holds, fed by attach clients
    stdin_once: bool = False        # closed when the first client that sent stdin detaches

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, d: dict[str, Any] | None = None) -> str:
        """JSON of ``d`` (this spec's ``to_dict()``, made once for both encodings)."""
        return json.dumps(self.to_dict() if d is None else d, indent=1)

    def to_marshal(self, d: dict[str, Any] | None = None) -> bytes:
        return marshal.dumps(self.to_dict() if d is None else d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ShimSpec:
        init = dict(d["init"])
        init["mounts"] = [MountSpec(**m) for m in init.get("mounts", [])]
        return cls(**{**d, "init": InitSpec(**init)})

    @classmethod
    def load(cls, path: Path) -> ShimSpec:
        return cls.from_dict(json.loads(path.read_text()))
