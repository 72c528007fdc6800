"""The interpreter for helpers that enter a container, as a sealed in-memory copy.

A process that execs into a container (the exec helper, the shim's fork
that becomes the container's init) runs the host's Python until its final
exec, and ``/proc/self/exe`` names that binary.  A container that gets hold
of it (``#!/proc/self/exe`` as the first line of the command it makes us
run, or ``/proc/PID/exe`` of the helper) could open it for writing and
replace the host's interpreter: runc's CVE-2019-5736.  So helpers are
started from a copy of the interpreter in a memfd sealed against writes,
shrinking and growing, as runc does since that CVE: what the container can
reach is that copy, which nothing can change.  (The kernel's ETXTBSY only
protects the host binary while some process still runs it.)

One copy per agent process; children exec it as ``/proc/<agent pid>/fd/N``
(``subprocess.Popen(..., executable=path())``), argv[0] stays the real
interpreter's path so Python finds its standard library as usual.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading

_lock = threading.Lock()
_fd: int | None = None
_pid = 0
SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def sealed_copy(source: str) -> int:
    """A close-on-exec memfd holding ``source``'s bytes, sealed; the caller owns the fd."""
    fd = os.memfd_create("corral-python", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        with open(source, "rb") as src:
            while chunk := memoryview(src.read(1 << 20)):
                while chunk:
                    chunk = chunk[os.write(fd, chunk):]
        os.fchmod(fd, 0o555)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


def path() -> str:
    """The sealed interpreter as a path a child of this process can exec."""
    global _fd, _pid
    with _lock:
        if _fd is None or _pid != os.getpid():   # a forked child makes its own
            _fd = sealed_copy(os.path.realpath(sys.executable))
            _pid = os.getpid()
        return f"/proc/{_pid}/fd/{_fd}"
