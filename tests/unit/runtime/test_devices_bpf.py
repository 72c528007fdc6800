"""The cgroup v2 device filter's eBPF program, run by a small interpreter of the
instructions it uses (the real kernel runs it in tests/integration/runtime/
test_devices_v2.py and in the VM lane); the driver on a fake tree."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from agent.runtime import bpf
from agent.runtime.cgroups import CgroupManager, Limits, devrules
from agent.runtime.cgroups.v2 import devices
from tests.unit.runtime.fakes import make_cgroup2

BLOCK, CHAR = 1, 2
MKNOD, READ, WRITE = 1, 2, 4


def run(program: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    """Interpret ``program`` on a bpf_cgroup_dev_ctx; only the opcodes the filter uses."""
    ctx = struct.pack("<III", access << 16 | dev_type, major, minor)
    regs = [0] * 11
    insns = [struct.unpack_from("<BBhi", program, i) for i in range(0, len(program), 8)]
    pc = steps = 0
    while True:
        steps += 1
        assert steps < 10_000 and 0 <= pc < len(insns), "ran off the program"
        code, r, off, imm = insns[pc]
        dst, src = r & 0xF, r >> 4
        pc += 1
        if code == 0x61:
            assert src == 1 and off in (0, 4, 8), "loads only from the context"
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif code == 0x54:
            regs[dst] = regs[dst] & imm & 0xFFFFFFFF
        elif code == 0x74:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif code == 0xBC:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif code == 0xB7:
            regs[dst] = imm
        elif code == 0x55:
            pc += off if regs[dst] != imm else 0
        elif code == 0x5D:
            pc += off if regs[dst] != regs[src] else 0
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


PROG = devices.program(devrules.DEFAULT)


@pytest.mark.parametrize(("dev", "access"), [
    ((CHAR, 1, 3), READ | WRITE),     # /dev/null
    ((CHAR, 1, 9), READ),             # /dev/urandom
    ((CHAR, 5, 2), READ | WRITE),     # /dev/ptmx
    ((CHAR, 136, 7), READ | WRITE),   # a pts
    ((CHAR, 10, 237), MKNOD),         # mknod of anything
    ((BLOCK, 8, 0), MKNOD),
    ((CHAR, 1, 5), MKNOD | READ | WRITE),
])
def test_allowed(dev: tuple[int, int, int], access: int) -> None:
    assert run(PROG, dev[0], access, dev[1], dev[2]) == 1


@pytest.mark.parametrize(("dev", "access"), [
    ((CHAR, 10, 237), READ),          # /dev/loop-control
    ((CHAR, 1, 11), READ),            # /dev/kmsg
    ((CHAR, 1, 1), READ | WRITE),     # /dev/mem
    ((BLOCK, 8, 0), READ),            # a disk
    ((BLOCK, 1, 3), READ),            # block 1:3 is not char 1:3
    ((CHAR, 137, 0), WRITE),
    ((CHAR, 10, 237), MKNOD | READ),  # mknod is allowed, the read is not
])
def test_refused(dev: tuple[int, int, int], access: int) -> None:
    assert run(PROG, dev[0], access, dev[1], dev[2]) == 0


def test_rule_kinds_and_wildcards() -> None:
    prog = devices.program([devrules.Rule("a", 7, None, "r")])
    assert run(prog, BLOCK, READ, 7, 99) == 1 and run(prog, CHAR, READ, 7, 0) == 1
    assert run(prog, CHAR, WRITE, 7, 0) == 0 and run(prog, CHAR, READ, 8, 0) == 0
    assert run(devices.program([]), CHAR, READ, 1, 3) == 0


def test_instruction_encoding() -> None:
    # r2 = *(u32 *)(r1 + 4); if r4 != 10 goto +3; exit
    assert bpf.load_u32(2, 1, 4) == bytes([0x61, 0x12, 4, 0, 0, 0, 0, 0])
    assert bpf.jne_imm(4, 10, 3) == bytes([0x55, 0x04, 3, 0, 10, 0, 0, 0])
    assert bpf.exit_() == bytes([0x95, 0, 0, 0, 0, 0, 0, 0])


def test_v1_rules_are_dockers() -> None:
    assert [r.v1() for r in devrules.DEFAULT] == [
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm",
        "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"]


def test_fake_tree_is_not_filtered(tmp_path: Path) -> None:
    """A directory that is not on cgroup2 (a fake tree) gets no program and no error."""
    make_cgroup2(tmp_path, ["corral/node1/podabc/c1"])
    m = CgroupManager("corral/node1", tmp_path)
    m.create_container("abc", "c1", Limits(devices="default"))
    assert not devices.on_cgroup2(tmp_path)
