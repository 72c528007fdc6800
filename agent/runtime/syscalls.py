"""The one place where the runtime talks to the kernel through ctypes.

Everything that Python's ``os`` module does not offer (unshare, setns, mount,
umount2, pivot_root, sethostname, prctl, capget/capset, close_range, a
seccomp filter, bpf, statfs's filesystem type) goes
through :class:`Syscalls`.  Code takes a ``Syscalls`` instance (default
:data:`SYS`) so unit tests can pass a fake that records the calls instead of
making them.  Failures raise ``OSError`` with the errno and the call named.
"""

from __future__ import annotations

import ctypes
import os

# clone/unshare flags
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_STRICTATIME = 0x1000000
MNT_DETACH = 0x2

# prctl options
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

CLOSE_RANGE_CLOEXEC = 0x4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_SYSCALL_NR = {
    "x86_64": {"pivot_root": 155, "capget": 125, "capset": 126, "close_range": 436,
               "bpf": 321},
    "aarch64": {"pivot_root": 41, "capget": 90, "capset": 91, "close_range": 436,
                "bpf": 280},
}

# statfs f_type of a cgroup v2 mount (linux/magic.h)
CGROUP2_SUPER_MAGIC = 0x63677270


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _cstr(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


class Syscalls:
    """Thin, typed wrappers; each raises OSError on failure."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._nr = _SYSCALL_NR.get(os.uname().machine, _SYSCALL_NR["x86_64"])
        self._libc.syscall.restype = ctypes.c_long
        self._libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        self._libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        self._libc.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]

    def _check(self, ret: int, what: str) -> int:
        if ret < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")
        return ret

    def unshare(self, flags: int) -> None:
        self._check(self._libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")

    def setns(self, fd: int, nstype: int) -> None:
        self._check(self._libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int = 0,
        data: str | None = None,
    ) -> None:
        ret = self._libc.mount(_cstr(source), _cstr(target), _cstr(fstype), flags, _cstr(data))
        self._check(ret, f"mount({source!r}, {target!r}, {fstype!r}, {flags:#x}, {data!r})")

    def umount2(self, target: str, flags: int = 0) -> None:
        self._check(self._libc.umount2(_cstr(target), ctypes.c_int(flags)), f"umount2({target!r})")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        ret = self._libc.syscall(
            ctypes.c_long(self._nr["pivot_root"]), _cstr(new_root), _cstr(put_old)
        )
        self._check(ret, f"pivot_root({new_root!r}, {put_old!r})")

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        self._check(self._libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0,
              arg5: int = 0) -> int:
        return self._check(self._libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")

    def capget(self) -> tuple[int, int, int]:
        """(effective, permitted, inheritable) of this thread as 64-bit masks."""
        hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        ret = self._libc.syscall(
            ctypes.c_long(self._nr["capget"]), ctypes.byref(hdr), ctypes.byref(data)
        )
        self._check(ret, "capget")
        return (
            data[0].effective | data[1].effective << 32,
            data[0].permitted | data[1].permitted << 32,
            data[0].inheritable | data[1].inheritable << 32,
        )

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        for i in (0, 1):
            shift = 32 * i
            data[i].effective = (effective >> shift) & 0xFFFFFFFF
            data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
            data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
        ret = self._libc.syscall(
            ctypes.c_long(self._nr["capset"]), ctypes.byref(hdr), ctypes.byref(data)
        )
        self._check(ret, "capset")

    def close_range(self, first: int, last: int, flags: int = 0) -> None:
        ret = self._libc.syscall(
            ctypes.c_long(self._nr["close_range"]), ctypes.c_uint(first), ctypes.c_uint(last),
            ctypes.c_uint(flags),
        )
        self._check(ret, "close_range")

    def set_seccomp_filter(self, program: bytes) -> None:
        """Install a classic-BPF seccomp filter (struct sock_filter[] as bytes) on this thread.

        Needs no_new_privs or CAP_SYS_ADMIN; inherited across fork and exec."""
        if not program or len(program) % 8:
            raise ValueError("a seccomp program is a non-empty array of 8-byte instructions")
        buf = ctypes.create_string_buffer(program, len(program))
        prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
        ret = self._libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0)
        self._check(ret, "prctl(PR_SET_SECCOMP)")


    def bpf(self, cmd: int, attr: bytearray) -> int:
        """bpf(cmd, &attr, len(attr)): ``attr`` is a union bpf_attr laid out by the
        caller (agent/runtime/bpf.py); the kernel may write results back into it."""
        buf = (ctypes.c_char * len(attr)).from_buffer(attr)
        ret = self._libc.syscall(ctypes.c_long(self._nr["bpf"]), ctypes.c_int(cmd),
                                 ctypes.byref(buf), ctypes.c_uint(len(attr)))
        return self._check(ret, f"bpf({cmd})")

    def statfs_type(self, path: str) -> int:
        """The f_type (filesystem magic) of the filesystem holding ``path``."""
        buf = ctypes.create_string_buffer(256)   # struct statfs is 120 bytes on 64-bit
        self._check(self._libc.statfs(_cstr(path), buf), f"statfs({path!r})")
        return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


SYS = Syscalls()


SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up() -> None:
    """``ip link set lo up`` in this network namespace, by ioctl (the kernel then adds
    127.0.0.1 and ::1). For the pod sandbox's new network namespace."""
    import _socket
    import fcntl
    import sys

    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        name = b"lo".ljust(16, b"\0")
        got = fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, name + bytes(24))
        flags = int.from_bytes(got[16:18], sys.byteorder) | IFF_UP
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, name + flags.to_bytes(2, sys.byteorder)
                    + bytes(22))
    finally:
        sock.close()
