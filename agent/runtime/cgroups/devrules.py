"""The devices a (non-privileged) container may use: Docker's default list.

Both drivers enforce it: v1 writes it to ``devices.allow`` (v1/devices.py),
v2 compiles it to an eBPF cgroup-device program (v2/devices.py).  mknod of
any device is allowed (Docker's ``c *:* m``, ``b *:* m``): opening is what
is checked.  Allowed to open: null zero full random urandom (1:3,5,7,8,9),
tty console ptmx (5:0,1,2) and the pts (136:*).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    kind: str                 # "c" (char), "b" (block) or "a" (both)
    major: int | None         # None: any
    minor: int | None         # None: any
    access: str               # some of "rwm": read, write, mknod

    def v1(self) -> str:
        """The rule as cgroup v1's devices.allow takes it, e.g. ``c 136:* rwm``."""
        star = "*"
        return (f"{self.kind} {star if self.major is None else self.major}:"
                f"{star if self.minor is None else self.minor} {self.access}")


DEFAULT = (
    Rule("c", None, None, "m"), Rule("b", None, None, "m"),
    Rule("c", 1, 3, "rwm"), Rule("c", 1, 5, "rwm"), Rule("c", 1, 7, "rwm"),
    Rule("c", 1, 8, "rwm"), Rule("c", 1, 9, "rwm"),
    Rule("c", 5, 0, "rwm"), Rule("c", 5, 1, "rwm"), Rule("c", 5, 2, "rwm"),
    Rule("c", 136, None, "rwm"),
)
