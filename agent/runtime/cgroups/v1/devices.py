"""v1 devices controller: deny every device but the ones a container's /dev has.

Docker's default allow list: mknod of anything (opening is what is checked),
null zero full random urandom tty, /dev/console, /dev/ptmx and the pts.
(cgroup v2 needs an eBPF program for this; not done yet, see the package docs.)
"""

from __future__ import annotations

from pathlib import Path

from agent.runtime.cgroups.base import Limits, write

NAME = "devices"

ALLOW = (
    "c *:* m", "b *:* m",
    "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",
)


def apply(path: Path, limits: Limits) -> None:
    if limits.devices == "all":
        write(path / "devices.allow", "a")
    elif limits.devices == "default":
        write(path / "devices.deny", "a")
        for rule in ALLOW:
            write(path / "devices.allow", rule)


def stats(path: Path) -> dict[str, int]:
    return {}
