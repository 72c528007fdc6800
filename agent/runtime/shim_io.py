"""The shim's I/O: the container's stdio, its attach socket and the copy loop.

Imported by the shim (shim.py): builtins, os, select and time only.
"""

from __future__ import annotations

import os
import select
import time

import agent.runtime.crilog as crilog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from agent.runtime.spec import ShimSpec


def stdio(spec: ShimSpec) -> tuple[list[int], dict[int, str], int]:
    """(fds 0-2 for the child, {our read end: stream name}, our end of its stdin or -1);
    no streams for a tty (the init opens the pty in its /dev/pts and sends the master)."""
    devnull = os.open("/dev/null", os.O_RDWR)
    if spec.init.tty:
        return [devnull, devnull, devnull], {}, -1
    in_r, in_w = os.pipe() if spec.stdin else (devnull, -1)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    return [in_r, out_w, err_w], {out_r: "stdout", err_r: "stderr"}, in_w


def attach_hub(spec: ShimSpec, poller: Any, stdin_w: int, master: int) -> Any:
    """The attach socket of a container with stdin or a tty (None for the others: their
    output is their log)."""
    if not (spec.stdin or spec.init.tty):
        return None
    from agent.runtime.attach_hub import Hub

    stdin_fd = (master if spec.init.tty else stdin_w) if spec.stdin else -1
    return Hub(os.path.dirname(spec.state_path), poller, stdin_fd,
               bool(getattr(spec, "stdin_once", False)), master)


def pump(log_path: str, pid: int, streams: dict[int, str], poller: Any, hub: Any) -> int:
    """Copy output to the log (and attached clients) until the child is reaped and the
    streams end; the hub handles its own fds.  Returns the wait status."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    writer = crilog.LogWriter(log_fd)
    pidfd = os.pidfd_open(pid)
    for fd in [*streams, pidfd]:
        poller.register(fd, select.POLLIN)
    status: int | None = None
    drain_deadline = 0.0
    while streams or status is None:
        timeout = None if status is None else max(0.0, drain_deadline - time.monotonic())
        if status is not None and timeout == 0.0:
            break
        for fd, ev in poller.poll(None if timeout is None else timeout * 1000):
            if fd == pidfd:
                _, status = os.waitpid(pid, 0)
                poller.unregister(pidfd)
                os.close(pidfd)
                drain_deadline = time.monotonic() + 2.0
                continue
            if (hub is not None and hub.handle(fd, ev)) or fd not in streams:
                continue
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:  # a pty master the hub made non-blocking
                continue
            except OSError:  # EIO from a pty master once the slave side is gone
                data = b""
            if data:
                writer.write(streams[fd], data)
                if hub is not None:
                    hub.output(streams[fd], data)
            else:
                writer.close_stream(streams.pop(fd))
                poller.unregister(fd)
                if hub is not None:
                    hub.forget(fd)
                os.close(fd)
    for fd, name in streams.items():
        writer.close_stream(name)
        if hub is not None:
            hub.forget(fd)
        os.close(fd)
    os.close(log_fd)
    return status
