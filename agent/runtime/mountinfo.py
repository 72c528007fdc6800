"""Reading /proc/self/mountinfo and undoing mounts (host side)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import agent.runtime.syscalls as sc

_ESCAPE = re.compile(r"\\([0-7]{3})")


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    with open(mountinfo) as f:
        lines = f.read().splitlines()
    points = [ln.split(" ", 5)[4] for ln in lines]
    return [_ESCAPE.sub(_unescape, p) if "\\" in p else p for p in points]


def _unescape(m: re.Match[str]) -> str:
    return chr(int(m.group(1), 8))


def below(prefix: str, points: Sequence[str]) -> list[str]:
    """The entries of ``points`` (``mount_points()``, repeats kept) at or below ``prefix``."""
    prefix = os.path.realpath(prefix).rstrip("/")
    return [m for m in points if m == prefix or m.startswith(prefix + "/")]


def under(prefix: str) -> list[str]:
    """Mount points at or below ``prefix``, deepest first."""
    return sorted(set(below(prefix, mount_points())), key=lambda m: m.count("/"), reverse=True)


def unmount_under(prefix: str, sys_: sc.Syscalls = sc.SYS) -> list[str]:
    """Detach every mount at or below ``prefix`` (a stack is unmounted to the bottom).
    Returns what is still mounted there (empty: nothing; callers need not look again)."""
    points: list[str] = []
    for _ in range(64):
        points = under(prefix)
        if not points:
            return points
        for m in points:
            try:
                sys_.umount2(m, sc.MNT_DETACH)
            except OSError:
                pass
    return under(prefix)
