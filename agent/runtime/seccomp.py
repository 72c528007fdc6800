"""The default seccomp profile: a classic-BPF program, built here as bytes.

Pure data (imports only ``os`` and ``struct``), so unit tests can run the program
through an interpreter without root; the container init and the exec
helper install it (``Syscalls.set_seccomp_filter``) as their last step
before exec.  The program:

1. checks ``seccomp_data.arch``: anything but the arch it was built for
   (``AUDIT_ARCH_X86_64`` or ``AUDIT_ARCH_AARCH64``) kills the process, so
   the i386 ABI (``int 0x80``) cannot bypass the x86_64 table;
2. on x86_64, answers ENOSYS to x32 syscall numbers (bit 30 set), as a
   kernel built without x32 does;
3. answers EPERM to every syscall in :data:`DENIED`: the ones Docker's and
   containerd's default profiles leave out because they reach kernel-global
   state that namespaces do not isolate (modules, kexec, keyrings, clocks,
   swap, quotas, mounts, namespaces, BPF, perf, io_uring, file handles);
4. answers EPERM to ``clone`` with any ``CLONE_NEW*`` flag (a user
   namespace would hand the container a fresh set of capabilities) and
   ENOSYS to ``clone3`` (its flags live in memory BPF cannot read; libcs
   fall back to ``clone``);
5. answers EPERM to ``mknod``/``mknodat`` of a character or block device
   (CAP_MKNOD stays, as with Docker, for FIFOs and sockets; a device node
   would reach the host's disks where no devices cgroup filters, cgroup v2);
6. allows everything else.

A deny-list, not Docker's allow-list: new syscalls are allowed until they
are listed here.  ``privileged`` containers and ``Unconfined`` get no filter.
"""

from __future__ import annotations

import os
import struct

# classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h)
_LD_W_ABS = 0x20    # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15       # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35       # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45      # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06       # BPF_RET | BPF_K
_AND_K = 0x54       # BPF_ALU | BPF_AND | BPF_K

Insn = tuple[int, "str | int", "str | int", int]   # code, jump-true, jump-false, k

RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
EPERM = 1
ENOSYS = 38

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
OFF_NR = 0
OFF_ARCH = 4
OFF_ARG0_LOW = 16   # both supported arches are little-endian

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000

# CLONE_NEWTIME | NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
CLONE_NEW_FLAGS = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | \
    0x10000000 | 0x20000000 | 0x40000000

S_IFMT, S_IFCHR, S_IFBLK = 0o170000, 0o020000, 0o060000

PROFILES = ("RuntimeDefault", "Unconfined")

DENIED = (
    # kernel modules and replacing the kernel
    "init_module", "finit_module", "delete_module", "create_module", "get_kernel_syms",
    "query_module", "kexec_load", "kexec_file_load",
    # the machine: reboot, swap, raw I/O ports, quotas, accounting, the kernel log
    "reboot", "swapon", "swapoff", "iopl", "ioperm", "quotactl", "quotactl_fd", "acct",
    "syslog", "vhangup", "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl",
    # clocks are not namespaced
    "settimeofday", "clock_settime", "clock_adjtime",
    # kernel keyrings are not namespaced
    "add_key", "request_key", "keyctl",
    # mounts and namespaces (the new mount API too)
    "mount", "umount2", "pivot_root", "unshare", "setns", "fsopen", "fsconfig", "fsmount",
    "fspick", "move_mount", "open_tree", "mount_setattr",
    # file handles bypass the mount namespace ("shocker"); fanotify watches the host
    "name_to_handle_at", "open_by_handle_at", "fanotify_init", "lookup_dcookie",
    # large attack surfaces
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "kcmp",
)

# syscall numbers: x86_64 from asm/unistd_64.h, aarch64 from asm-generic/unistd.h
NUMBERS: dict[str, dict[str, int]] = {
    "x86_64": {
        "init_module": 175, "finit_module": 313, "delete_module": 176, "create_module": 174,
        "get_kernel_syms": 177, "query_module": 178, "kexec_load": 246, "kexec_file_load": 320,
        "reboot": 169, "swapon": 167, "swapoff": 168, "iopl": 172, "ioperm": 173,
        "quotactl": 179, "quotactl_fd": 443, "acct": 163, "syslog": 103, "vhangup": 153,
        "nfsservctl": 180, "uselib": 134, "ustat": 136, "sysfs": 139, "_sysctl": 156,
        "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305,
        "add_key": 248, "request_key": 249, "keyctl": 250,
        "mount": 165, "umount2": 166, "pivot_root": 155, "unshare": 272, "setns": 308,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "move_mount": 429,
        "open_tree": 428, "mount_setattr": 442,
        "name_to_handle_at": 303, "open_by_handle_at": 304, "fanotify_init": 300,
        "lookup_dcookie": 212,
        "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "kcmp": 312,
        "clone": 56, "clone3": 435, "mknod": 133, "mknodat": 259,
    },
    "aarch64": {
        "init_module": 105, "finit_module": 273, "delete_module": 106,
        "kexec_load": 104, "kexec_file_load": 294,
        "reboot": 142, "swapon": 224, "swapoff": 225,
        "quotactl": 60, "quotactl_fd": 443, "acct": 89, "syslog": 116, "vhangup": 58,
        "nfsservctl": 42,
        "settimeofday": 170, "clock_settime": 112, "clock_adjtime": 266,
        "add_key": 217, "request_key": 218, "keyctl": 219,
        "mount": 40, "umount2": 39, "pivot_root": 41, "unshare": 97, "setns": 268,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "move_mount": 429,
        "open_tree": 428, "mount_setattr": 442,
        "name_to_handle_at": 264, "open_by_handle_at": 265, "fanotify_init": 262,
        "lookup_dcookie": 18,
        "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "kcmp": 272,
        "clone": 220, "clone3": 435, "mknodat": 33,
    },
}


def native_arch() -> str:
    """This machine's arch as a key of :data:`NUMBERS`; ValueError if unsupported."""
    machine = os.uname().machine
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if machine not in NUMBERS:
        raise ValueError(f"no seccomp syscall table for {machine}")
    return machine


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _mode_check(nr: int, arg: int) -> list[Insn | str]:
    """mknod/mknodat: EPERM when the mode (argument ``arg``) makes a char or block device."""
    return [f"dev{nr}", (_LD_W_ABS, 0, 0, OFF_ARG0_LOW + 8 * arg), (_AND_K, 0, 0, S_IFMT),
            (_JEQ_K, "eperm", 0, S_IFCHR), (_JEQ_K, "eperm", "allow", S_IFBLK)]


_PROGRAMS: dict[str, bytes] = {}   # assembled once per process (the zygote warms it)


def program(arch: str | None = None) -> bytes:
    """The default profile for ``arch`` (default: this machine's) as a sock_filter array."""
    arch = arch or native_arch()
    if arch not in NUMBERS:
        raise ValueError(f"no seccomp syscall table for {arch}")
    if arch not in _PROGRAMS:
        _PROGRAMS[arch] = _program(arch)
    return _PROGRAMS[arch]


def _program(arch: str) -> bytes:
    nrs = NUMBERS[arch]
    denied = sorted({nrs[name] for name in DENIED if name in nrs})
    mknods = [(nrs[name], arg) for name, arg in (("mknod", 1), ("mknodat", 2)) if name in nrs]
    # a label (str) marks the next instruction; jump targets are labels or 0 (next)
    prog: list[Insn | str] = [
        (_LD_W_ABS, 0, 0, OFF_ARCH),
        (_JEQ_K, 0, "kill", AUDIT_ARCH[arch]),
        (_LD_W_ABS, 0, 0, OFF_NR),
    ]
    if arch == "x86_64":
        prog.append((_JGE_K, "enosys", 0, X32_SYSCALL_BIT))
    prog += [(_JEQ_K, "eperm", 0, nr) for nr in denied]
    prog += [(_JEQ_K, "enosys", 0, nrs["clone3"]), (_JEQ_K, "clone", 0, nrs["clone"])]
    prog += [(_JEQ_K, f"dev{nr}", 0, nr) for nr, _ in mknods]
    prog += [(_RET_K, 0, 0, RET_ALLOW),
             "clone", (_LD_W_ABS, 0, 0, OFF_ARG0_LOW),
             (_JSET_K, "eperm", "allow", CLONE_NEW_FLAGS)]
    for nr, arg in mknods:
        prog += _mode_check(nr, arg)
    prog += ["allow", (_RET_K, 0, 0, RET_ALLOW),      # BPF only jumps forward: returns last
             "eperm", (_RET_K, 0, 0, RET_ERRNO | EPERM),
             "enosys", (_RET_K, 0, 0, RET_ERRNO | ENOSYS),
             "kill", (_RET_K, 0, 0, RET_KILL_PROCESS)]
    return _assemble(prog)


def _assemble(prog: list[Insn | str]) -> bytes:
    labels: dict[str, int] = {}
    insns: list[Insn] = []
    for item in prog:
        if isinstance(item, str):
            labels[item] = len(insns)
        else:
            insns.append(item)
    out = []
    for pc, (code, jt, jf, k) in enumerate(insns):
        offs = [labels[j] - pc - 1 if isinstance(j, str) else j for j in (jt, jf)]  # forward
        if not all(0 <= o <= 255 for o in offs):
            raise ValueError(f"seccomp program: jump out of range at {pc}")
        out.append(_insn(code, offs[0], offs[1], k))
    return b"".join(out)
