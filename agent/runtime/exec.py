"""Exec into a running container: the agent side (see nsexec.py for the helper).

The helper runs from the sealed copy of the interpreter (sealedexe.py), so
the container never reaches the host's binary through /proc/PID/exe."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import subprocess
import termios
from typing import IO

import agent.runtime.pty as pty
import agent.runtime.sealedexe as sealedexe
from agent.runtime.errors import ExecError
from agent.runtime.helpers import helper_argv, helper_env, read_until_eof
from agent.runtime.spec import InitSpec

START_TIMEOUT = 30.0


class ExecProcess:
    """A command running inside a container.

    Without a tty: ``stdin``/``stdout``/``stderr`` are pipes.  With a tty:
    ``master_fd`` is the pty master (read output, write input) and
    ``resize(rows, cols)`` sets the window size.  ``wait``/``poll`` give the
    command's exit status (128+n when killed by signal n).
    """

    def __init__(self, proc: subprocess.Popen[bytes], master_fd: int | None) -> None:
        self.proc = proc
        self.master_fd = master_fd
        self.pid = proc.pid
        self.stdin: IO[bytes] | None = proc.stdin
        self.stdout: IO[bytes] | None = proc.stdout
        self.stderr: IO[bytes] | None = proc.stderr

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout)

    def poll(self) -> int | None:
        return self.proc.poll()

    def terminate(self) -> None:
        """SIGTERM, forwarded to the command."""
        if self.proc.poll() is None:
            self.proc.terminate()

    def kill(self) -> None:
        """SIGKILL the helper; the command dies with it (parent-death signal)."""
        if self.proc.poll() is None:
            self.proc.kill()

    def resize(self, rows: int, cols: int) -> None:
        if self.master_fd is None:
            raise ExecError("resize needs a tty")
        fcntl.ioctl(self.master_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def close(self) -> None:
        self.kill()
        self.proc.wait()
        for f in (self.stdin, self.stdout, self.stderr):
            if f is not None:
                f.close()
        if self.master_fd is not None:
            os.close(self.master_fd)
            self.master_fd = None


def start(pid: int, init: InitSpec, argv: list[str], tty: bool, env: dict[str, str] | None,
          working_dir: str | None, user: int | None) -> ExecProcess:
    if not argv:
        raise ExecError("exec: empty command")
    merged = dict(e.split("=", 1) for e in init.env)
    merged.update(env or {})
    uid = init.uid if user is None else user
    req = {
        "pid": pid, "cgroup_procs": init.cgroup_procs, "argv": argv,
        "env": [f"{k}={v}" for k, v in merged.items()], "working_dir": working_dir or
        init.working_dir, "uid": uid, "gid": init.gid if user is None else uid,
        "additional_gids": init.additional_gids, "cap_mask": init.cap_mask,
        "no_new_privs": init.no_new_privs, "tty": tty,
        "seccomp_profile": "" if init.privileged else init.seccomp_profile,
    }
    r, w = os.pipe()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    master: int | None = None
    try:
        io = subprocess.DEVNULL if tty else subprocess.PIPE
        proc = subprocess.Popen(
            helper_argv("nsexec", json.dumps(req), str(w), str(theirs.fileno())),
            executable=sealedexe.path(),  # not the host's binary: see sealedexe.py
            pass_fds=(w, theirs.fileno()), env=helper_env(), cwd="/", start_new_session=True,
            stdin=io, stdout=io, stderr=io,
        )
        theirs.close()
        os.close(w)
        w = -1
        if tty:
            master = pty.recv_fd(ours.fileno())
        failure = read_until_eof(r, START_TIMEOUT).decode(errors="replace")
    except BaseException:
        if master is not None:
            os.close(master)
        raise
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
        ours.close()
        theirs.close()
    handle = ExecProcess(proc, master)
    if failure:
        handle.close()
        raise ExecError(failure)
    return handle
