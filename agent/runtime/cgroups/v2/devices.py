"""v2 device filter: an eBPF cgroup-device program, as runc, crun and youki do.

cgroup v2 has no devices controller: the kernel asks the
BPF_PROG_TYPE_CGROUP_DEVICE programs attached to a task's cgroup (and, with
BPF_F_ALLOW_MULTI, to its ancestors: every one must allow) on each mknod and
open of a device node.  ``Limits.devices``:

- ``"default"``: the program allows Docker's default list (devrules.py) and
  refuses everything else with EPERM;
- ``"all"`` (privileged): no program of ours;
- ``None``: device access is left alone (pod cgroups).

Applying again replaces the program (the new one is attached before the old
one is detached, so there is no unfiltered moment).  A program stays attached
without an open fd until its cgroup is removed, so an agent restart changes
nothing.  A directory that is not on a cgroup2 mount (unit tests' fake trees)
is skipped; on a real cgroup v2 a filter that cannot be installed is an error,
never a container with every device open.

The program (ctx is ``struct bpf_cgroup_dev_ctx``)::

    r2 = ctx->access_type & 0xffff      # BPF_DEVCG_DEV_BLOCK 1, _CHAR 2
    r3 = ctx->access_type >> 16         # BPF_DEVCG_ACC_MKNOD 1, _READ 2, _WRITE 4
    r4 = ctx->major; r5 = ctx->minor
    for each rule: if type, access, major, minor match: return 1
    return 0
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import agent.runtime.bpf as bpf
import agent.runtime.cgroups.devrules as devrules
import agent.runtime.syscalls as sc
from agent.runtime.cgroups.base import Limits
from agent.runtime.errors import CgroupError

NAME = "devices"

_TYPE = {"b": 1, "c": 2}
_ACCESS = {"m": 1, "r": 2, "w": 4}
_R0, _R1, _R2, _R3, _R4, _R5 = range(6)

Jump = Callable[[int], bytes]   # an instruction, given how many to skip when it does not match


def _rule_block(rule: devrules.Rule) -> bytes:
    """Instructions that return 1 when ``rule`` matches, else fall through."""
    head: list[bytes | Jump] = []
    if rule.kind != "a":
        t = _TYPE[rule.kind]
        head.append(lambda off: bpf.jne_imm(_R2, t, off))
    access = sum(_ACCESS[a] for a in set(rule.access))
    if access != 7:
        # (requested & allowed) != requested: something asked for is not allowed
        head += [bpf.mov32_reg(_R1, _R3), bpf.and32(_R1, access),
                 lambda off: bpf.jne_reg(_R1, _R3, off)]
    if rule.major is not None:
        major = rule.major
        head.append(lambda off: bpf.jne_imm(_R4, major, off))
    if rule.minor is not None:
        minor = rule.minor
        head.append(lambda off: bpf.jne_imm(_R5, minor, off))
    tail = [bpf.mov64_imm(_R0, 1), bpf.exit_()]
    out = []
    for i, part in enumerate(head):
        out.append(part if isinstance(part, bytes) else part(len(head) - i - 1 + len(tail)))
    return b"".join(out + tail)


def program(rules: Sequence[devrules.Rule]) -> bytes:
    """The eBPF program (bpf_insn array) allowing exactly ``rules``."""
    prologue = [
        bpf.load_u32(_R2, _R1, 0), bpf.and32(_R2, 0xFFFF),
        bpf.load_u32(_R3, _R1, 0), bpf.rsh32(_R3, 16),
        bpf.load_u32(_R4, _R1, 4), bpf.load_u32(_R5, _R1, 8),
    ]
    deny = [bpf.mov64_imm(_R0, 0), bpf.exit_()]
    return b"".join(prologue + [_rule_block(r) for r in rules] + deny)


def on_cgroup2(path: Path, sys_: sc.Syscalls = sc.SYS) -> bool:
    try:
        return sys_.statfs_type(str(path)) == sc.CGROUP2_SUPER_MAGIC
    except OSError:
        return False


def attached(path: Path, sys_: sc.Syscalls = sc.SYS) -> list[int]:
    """Ids of the device programs attached to the cgroup ``path`` itself."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return bpf.prog_query(fd, bpf.BPF_CGROUP_DEVICE, sys_=sys_)
    finally:
        os.close(fd)


def apply(path: Path, limits: Limits, sys_: sc.Syscalls = sc.SYS) -> None:
    if limits.devices is None or not on_cgroup2(path, sys_):
        return
    try:
        _replace(path, devrules.DEFAULT if limits.devices == "default" else None, sys_)
    except OSError as e:
        raise CgroupError(f"device filter (eBPF) on {path}: {e.strerror or e}") from e


def _replace(path: Path, rules: Sequence[devrules.Rule] | None, sys_: sc.Syscalls) -> None:
    cg = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = bpf.prog_query(cg, bpf.BPF_CGROUP_DEVICE, sys_=sys_)
        if rules is not None:
            prog = bpf.prog_load(bpf.BPF_PROG_TYPE_CGROUP_DEVICE, program(rules),
                                 name="corral_devices", sys_=sys_)
            try:
                bpf.prog_attach(cg, prog, bpf.BPF_CGROUP_DEVICE, bpf.BPF_F_ALLOW_MULTI, sys_)
            finally:
                os.close(prog)
        for prog_id in old:
            fd = bpf.prog_fd_by_id(prog_id, sys_)
            try:
                bpf.prog_detach(cg, fd, bpf.BPF_CGROUP_DEVICE, sys_)
            finally:
                os.close(fd)
    finally:
        os.close(cg)
