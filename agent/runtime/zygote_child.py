"""What the zygote's forked children do (zygote.py): become a shim, or hold a
pod's new namespaces (forked and awaited by ``fork_namespace_holder``).

A child first becomes a clean process: every signal disposition back to
default, no blocked signal, no wakeup fd, stdio on /dev/null (stderr on a
log for shims), every inherited fd closed but the one it needs, ``random``
reseeded if loaded.  It never returns into the zygote's loop: it ends with
``os._exit``.
"""

from __future__ import annotations

import _socket  # noqa: F401  (preloaded for sc.loopback_up in the forked children)
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


def fork_namespace_holder(kinds: dict[str, str]) -> str:
    """In the zygote: fork ``hold_namespaces``, wait for it; the answer to send."""
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.fork()
        if pid == 0:
            hold_namespaces(kinds, err_w)
        os.close(err_w)
        err_w = -1
        _, status = os.waitpid(pid, 0)
        failure = b""
        while chunk := os.read(err_r, 4096):
            failure += chunk
    finally:
        os.close(err_r)
        if err_w >= 0:
            os.close(err_w)
    if status == 0:
        return "ok"
    return f"error {failure.decode(errors='replace') or 'namespace holder failed'}"


def hold_namespaces(kinds: dict[str, str], err_fd: int) -> NoReturn:
    """New namespaces of ``kinds`` ("ipc", "net") bind-mounted on their files, the
    new network namespace's loopback up; failures are written to ``err_fd``."""
    code = 1
    try:
        fd = clean_process(None, err_fd)
        try:
            flags = 0
            for kind in kinds:
                flags |= NS_FLAGS[kind]
            sc.SYS.unshare(flags)
            if "net" in kinds:
                sc.loopback_up()
            for kind, target in kinds.items():
                sc.SYS.mount(f"/proc/self/ns/{kind}", target, None, sc.MS_BIND)
            code = 0
        except BaseException as e:
            os.write(fd, f"{e}".encode() or b"failed")
    finally:
        os._exit(code)
