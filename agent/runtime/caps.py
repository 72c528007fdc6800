"""Linux capabilities: names, Docker's default set, and applying a set to this process.

A container gets the same mask in its bounding, permitted, effective and
inheritable sets (ambient empty) when it runs as uid 0; as another uid it
keeps only the bounding set (setuid clears permitted/effective, as with
Docker).  ``privileged`` means every capability the kernel knows.
"""

from __future__ import annotations

import agent.runtime.syscalls as syscalls
from agent.runtime.errors import InvalidConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

NAMES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
    "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
NUMBERS = {name: i for i, name in enumerate(NAMES)}

DOCKER_DEFAULT = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)


_LAST_CAP: list[int] = []   # read once per process (the kernel's; the zygote warms it)


def last_cap() -> int:
    if not _LAST_CAP:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                _LAST_CAP.append(int(f.read()))
        except OSError:
            return len(NAMES) - 1
    return _LAST_CAP[0]


def number(name: str) -> int:
    key = name.upper().removeprefix("CAP_")
    if key not in NUMBERS:
        raise InvalidConfig(f"unknown capability {name!r}")
    return NUMBERS[key]


def mask_of(names: Iterable[str]) -> int:
    mask = 0
    for n in names:
        mask |= 1 << number(n)
    return mask


def own_bounding() -> int:
    """This process's bounding set: a container can never get more."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return (1 << (last_cap() + 1)) - 1


def all_caps() -> int:
    """Every capability this kernel knows."""
    return (1 << (last_cap() + 1)) - 1


def resolve(add: Iterable[str] = (), drop: Iterable[str] = (), privileged: bool = False) -> int:
    """The capability mask for a container; ``ALL`` works in add and drop like Docker.

    Pure: the caller clamps it to what it holds (``& own_bounding()``)."""
    if privileged:
        return all_caps()
    add, drop = list(add), list(drop)
    mask = mask_of(DOCKER_DEFAULT)
    if any(a.upper() == "ALL" for a in add):
        mask = all_caps()
    else:
        mask |= mask_of(add)
    if any(d.upper() == "ALL" for d in drop):
        mask = mask_of(a for a in add if a.upper() != "ALL")
    else:
        mask &= ~mask_of(drop)
    return mask & all_caps()


def drop_bounding(mask: int, sys_: syscalls.Syscalls = syscalls.SYS) -> None:
    """Drop every capability not in ``mask`` from the bounding set (needs CAP_SETPCAP)."""
    for cap in range(last_cap() + 1):
        if not mask & (1 << cap):
            sys_.prctl(syscalls.PR_CAPBSET_DROP, cap)


def set_process_caps(mask: int, uid: int, sys_: syscalls.Syscalls = syscalls.SYS) -> None:
    """After setuid: the four sets for uid 0, nothing for others; ambient cleared."""
    if uid == 0:
        sys_.capset(mask, mask, mask)
    sys_.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
