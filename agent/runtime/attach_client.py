"""The agent's end of a container's attach socket (attach_wire.py, attach_hub.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import agent.runtime.attach_wire as wire
from agent.runtime.errors import AttachError


def connect(cdir: Path, stdin: bool) -> socket.socket:
    """A blocking connection to the attach socket in ``cdir``; with ``stdin`` this
    client announces it sends stdin (what stdinOnce counts).  AttachError if the
    container has no socket (neither stdin nor tty) or its shim is gone."""
    if not (cdir / wire.SOCKET).exists():
        raise AttachError(f"container {cdir.name} has neither stdin nor a tty to attach to")
    dirfd = os.open(cdir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(wire.path_in(dirfd))
        if stdin:
            sock.sendall(wire.frame(wire.HELLO_STDIN))
    except OSError as e:
        sock.close()
        raise AttachError(f"container {cdir.name}: its shim does not answer: {e}") from e
    finally:
        os.close(dirfd)
    return sock


def resize_frame(rows: int, cols: int) -> bytes:
    return wire.frame(wire.RESIZE, f"{rows} {cols}".encode())
