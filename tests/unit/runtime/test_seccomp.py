"""The default seccomp profile, run through a classic-BPF interpreter (no root, no kernel)."""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from agent.runtime import container, seccomp
from agent.runtime import syscalls as sc
from agent.runtime.spec import InitSpec
from tests.unit.runtime.fakes import RecordingSyscalls

ALLOW, EPERM = seccomp.RET_ALLOW, seccomp.RET_ERRNO | 1
ENOSYS, KILL = seccomp.RET_ERRNO | 38, seccomp.RET_KILL_PROCESS
AUDIT_ARCH_I386 = 0x40000003
CLONE_NEWUSER, CLONE_NEWNET, SIGCHLD = 0x10000000, 0x40000000, 17
S_IFIFO, S_IFREG = 0o010000, 0o100000


def run_bpf(prog: bytes, nr: int, arch: int, *args: int) -> int:
    """Evaluate a seccomp program on one seccomp_data, as the kernel would."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *(list(args) + [0] * (6 - len(args))))
    insns = [struct.unpack("=HBBI", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:                          # ld [k]
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == 0x54:                        # and #k
            acc &= k
        elif code in (0x15, 0x35, 0x45):          # jeq / jge / jset #k
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if hit else jf
        elif code == 0x06:                        # ret #k
            return int(k)
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


@pytest.fixture(params=["x86_64", "aarch64"])
def arch(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def verdict(arch: str, name: str, *args: int) -> int:
    return run_bpf(seccomp.program(arch), seccomp.NUMBERS[arch][name], seccomp.AUDIT_ARCH[arch],
                   *args)


def test_denied_syscalls_get_eperm(arch: str) -> None:
    names = [n for n in seccomp.DENIED if n in seccomp.NUMBERS[arch]]
    for must in ("kexec_load", "init_module", "mount", "umount2", "unshare", "setns", "keyctl",
                 "bpf", "open_by_handle_at", "perf_event_open", "userfaultfd", "fsopen"):
        assert must in names
    for name in names:
        assert verdict(arch, name) == EPERM, name


def test_everyday_syscalls_are_allowed(arch: str) -> None:
    prog, audit = seccomp.program(arch), seccomp.AUDIT_ARCH[arch]
    denied = {seccomp.NUMBERS[arch][n] for n in seccomp.DENIED if n in seccomp.NUMBERS[arch]}
    special = {seccomp.NUMBERS[arch][n] for n in ("clone", "clone3", "mknod", "mknodat")
               if n in seccomp.NUMBERS[arch]}
    allowed = [nr for nr in range(460) if nr not in denied | special]
    assert len(allowed) > 380
    for nr in allowed:                  # read, write, openat, execve, ... all of them
        assert run_bpf(prog, nr, audit) == ALLOW, nr


def test_clone_with_namespace_flags_is_denied(arch: str) -> None:
    assert verdict(arch, "clone", SIGCHLD) == ALLOW                       # fork
    assert verdict(arch, "clone", 0x003D0F00) == ALLOW                     # pthread_create
    assert verdict(arch, "clone", SIGCHLD | CLONE_NEWUSER) == EPERM
    assert verdict(arch, "clone", CLONE_NEWNET) == EPERM
    assert verdict(arch, "clone3") == ENOSYS                               # libc falls back


def test_mknod_of_devices_is_denied(arch: str) -> None:
    for mode, want in ((S_IFIFO, ALLOW), (S_IFREG, ALLOW), (seccomp.S_IFCHR, EPERM),
                       (seccomp.S_IFBLK, EPERM)):
        assert verdict(arch, "mknodat", 0xFFFFFF9C, 0, mode | 0o600) == want, oct(mode)
        if arch == "x86_64":
            assert verdict(arch, "mknod", 0, mode | 0o600) == want, oct(mode)


def test_foreign_arch_is_killed(arch: str) -> None:
    prog = seccomp.program(arch)
    other = "aarch64" if arch == "x86_64" else "x86_64"
    for audit in (seccomp.AUDIT_ARCH[other], AUDIT_ARCH_I386):
        assert run_bpf(prog, 0, audit) == KILL


def test_x32_syscalls_get_enosys() -> None:
    prog, audit = seccomp.program("x86_64"), seccomp.AUDIT_ARCH["x86_64"]
    assert run_bpf(prog, seccomp.X32_SYSCALL_BIT | 0, audit) == ENOSYS         # x32 read
    assert run_bpf(prog, seccomp.X32_SYSCALL_BIT | 165, audit) == ENOSYS       # x32 mount


def _header_numbers(path: Path, prefix: str = "__NR_") -> dict[str, int]:
    text = path.read_text()
    return {m[1]: int(m[2]) for m in re.finditer(rf"#define {prefix}(\w+)\s+(\d+)\b", text)}


@pytest.mark.parametrize("arch_name,header", [
    ("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    ("aarch64", "/usr/include/asm-generic/unistd.h"),
])
def test_numbers_match_kernel_headers(arch_name: str, header: str) -> None:
    path = Path(header)
    if not path.exists():
        pytest.skip(f"no {header} (linux-libc-dev)")
    known = _header_numbers(path)
    for name, nr in seccomp.NUMBERS[arch_name].items():
        if name in known:
            assert known[name] == nr, name
    missing = [n for n in seccomp.DENIED if n in known and n not in seccomp.NUMBERS[arch_name]]
    assert not missing, f"{arch_name}: the header has {missing}"


def test_program_shape() -> None:
    with pytest.raises(ValueError):
        seccomp.program("mips")
    for a in seccomp.NUMBERS:
        prog = seccomp.program(a)
        assert len(prog) % 8 == 0 and len(prog) // 8 < 4096   # BPF_MAXINSNS


class SeccompRecorder(RecordingSyscalls):
    def set_seccomp_filter(self, program: bytes) -> None:
        self._rec("seccomp", len(program))


def _drop(mp: pytest.MonkeyPatch, no_new_privs: bool, profile: str,
          uid: int = 0) -> list[tuple[str, Any]]:
    fake = SeccompRecorder()
    spec = InitSpec(container_id="c", hostname="h", argv=["sh"], env=[], rootfs="/r",
                    lower_dirs=[], upper_dir="/u", work_dir="/w", uid=uid, gid=uid,
                    cap_mask=0xA80425FB, no_new_privs=no_new_privs, seccomp_profile=profile)
    for name in ("setgroups", "setresgid", "setresuid"):
        mp.setattr(os, name, lambda *a: None)
    container.set_user(spec, fake)
    return [(n, a[0] if a else None) for n, a in fake.calls
            if n in ("seccomp", "capset") or (n == "prctl" and a[0] in (
                sc.PR_SET_NO_NEW_PRIVS, sc.PR_SET_DUMPABLE))]


def test_filter_goes_in_after_no_new_privs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _drop(monkeypatch, True, "RuntimeDefault")
    assert [n for n, _ in calls] == ["prctl", "capset", "prctl", "seccomp"]
    assert calls[0] == ("prctl", sc.PR_SET_DUMPABLE) and calls[2] == ("prctl",
                                                                     sc.PR_SET_NO_NEW_PRIVS)


def test_filter_goes_in_first_without_no_new_privs(monkeypatch: pytest.MonkeyPatch) -> None:
    # only CAP_SYS_ADMIN allows a filter without no_new_privs: before the caps are dropped
    names = [n for n, _ in _drop(monkeypatch, False, "RuntimeDefault", uid=1000)]
    assert names == ["prctl", "seccomp"]


def test_unconfined_installs_no_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    for profile in ("Unconfined", ""):
        assert "seccomp" not in [n for n, _ in _drop(monkeypatch, True, profile)]
