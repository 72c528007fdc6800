"""Pseudo-terminals opened inside the container's own devpts, and fd passing.

A pty from the host's /dev/ptmx is "not a tty" inside the container (its
/dev/pts is a separate instance), so the process that has entered the
container's mount namespace opens /dev/ptmx there, keeps the slave for the
command and sends the master over a unix socket (SCM_RIGHTS) to whoever
reads the output: the shim for a container, the agent for an exec.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct

TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441


def open_pty() -> tuple[int, int]:
    """(master, slave) from the /dev/ptmx of the current mount namespace."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
    return master, slave


def send_fd(sock_fd: int, fd: int) -> None:
    with socket.socket(fileno=os.dup(sock_fd)) as sock:
        socket.send_fds(sock, [b"m"], [fd])


def recv_fd(sock_fd: int) -> int | None:
    """The fd sent on ``sock_fd``, or None if the peer closed without sending one."""
    with socket.socket(fileno=os.dup(sock_fd)) as sock:
        _msg, fds, _flags, _addr = socket.recv_fds(sock, 16, 1)
    return fds[0] if fds else None
