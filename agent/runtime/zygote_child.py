"""What the zygote's forked children do (zygote.py): become a shim; and how the
zygote makes a pod's new namespaces without a child (``make_namespaces``).

A child first becomes a clean process: every signal disposition back to
default, no blocked signal, no wakeup fd, stdio on /dev/null (stderr on a
log for shims), every inherited fd closed but the one it needs, ``random``
reseeded if loaded.  It never returns into the zygote's loop: it ends with
``os._exit``.
"""

from __future__ import annotations

import _socket
import fcntl  # noqa: F401
import os
import sys

import agent.runtime.shim as shim
import agent.runtime.syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

_signal = shim._signal
NS_FLAGS = {"ipc": sc.CLONE_NEWIPC, "net": sc.CLONE_NEWNET}


def clean_process(stderr_path: str | None, keep_fd: int) -> int:
    """Reset what the zygote set up; ``keep_fd`` moves to fd 3 (returned)."""
    _signal.set_wakeup_fd(-1)
    shim.reset_signals()
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    devnull = os.open("/dev/null", os.O_RDWR)
    err = devnull if stderr_path is None else os.open(
        stderr_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(err, 2)
    os.dup2(keep_fd, 3)
    os.closerange(4, 1 << 20)   # the listening socket, the connection, the wakeup pipe
    if "random" in sys.modules:
        sys.modules["random"].seed()
    return 3


def become_shim(spec_path: str, sync_fd: int) -> NoReturn:
    """A new session, a clean process, then the shim (as ``shim.main``)."""
    code = 1
    try:
        os.setsid()
        fd = clean_process(os.path.join(os.path.dirname(spec_path), "shim.log"), sync_fd)
        code = shim.main(["shim", spec_path, str(fd)])
    except BaseException as e:
        try:
            os.write(2, f"shim (forked): {e!r}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def become_spare(sock_fd: int) -> NoReturn:
    """A new session and a clean process now; later, on ``sock_fd``, a spec path and
    the sync pipe (SCM_RIGHTS) from the zygote: then the shim, as ``become_shim``.
    EOF instead (the zygote stopped, or went away): exit unused."""
    code = 1
    try:
        os.setsid()
        fd = clean_process(None, sock_fd)
        sock = _socket.socket(fileno=fd)
        msg, anc, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
        sock.close()
        sync = [int.from_bytes(data[:4], sys.byteorder) for level, kind, data in anc
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS and len(data) >= 4]
        if msg and len(sync) == 1:
            spec_path = os.fsdecode(msg)
            err = os.open(os.path.join(os.path.dirname(spec_path), "shim.log"),
                          os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            os.dup2(err, 2)
            os.close(err)
            code = shim.main(["shim", spec_path, str(sync[0])])
        else:
            code = 0   # not used
    except BaseException as e:
        try:
            os.write(2, f"shim (spare): {e!r}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def open_home_namespaces() -> dict[str, int]:
    """In the zygote: fds of its own namespaces of every kind ``make_namespaces`` makes,
    to come back to (close-on-exec; a forked child closes them in ``clean_process``)."""
    return {kind: os.open(f"/proc/thread-self/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
            for kind in NS_FLAGS}


def make_namespaces(kinds: dict[str, str], home: dict[str, int]) -> tuple[str, bool]:
    """In the zygote itself (no fork): new namespaces of ``kinds`` ("ipc", "net"), the
    new network namespace's loopback up, each bind-mounted on its file; then back into
    the zygote's own namespaces (``home``).  Returns the answer to send, and False if
    the way back failed: the zygote must not serve anything more from a pod's
    namespaces (it exits)."""
    flags = 0
    for kind in kinds:
        flags |= NS_FLAGS[kind]
    answer = "ok"
    try:
        sc.SYS.unshare(flags)
        if "net" in kinds:
            sc.loopback_up()
        for kind, target in kinds.items():
            sc.SYS.mount(f"/proc/thread-self/ns/{kind}", target, None, sc.MS_BIND)
    except BaseException as e:
        answer = f"error {e}" if str(e) else "error namespace holder failed"
    try:
        for kind in kinds:
            sc.SYS.setns(home[kind], NS_FLAGS[kind])
    except BaseException:
        return "error cannot return to the zygote's own namespaces", False
    return answer, True
