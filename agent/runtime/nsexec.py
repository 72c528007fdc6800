"""Run a command inside a running container: ``python3 -S -m agent.runtime.nsexec JSON FD SOCK``.

Joins the container's cgroup, then its cgroup, ipc, uts, net, pid and mount
namespaces with setns (mount last: it also moves our root and cwd there),
forks (a setns'd PID namespace applies to children), and the child drops to
the container's capabilities, user, no_new_privs and seccomp filter (as
the container's init does) and execs.  Start
failures are written to FD (close-on-exec, so empty means the exec
happened).  With a tty, the pty is opened in the container's /dev/pts and
its master sent to the agent on SOCK (see pty.py).  This process stays as
the parent, forwards SIGTERM/SIGINT/SIGHUP and exits with the command's
status (128+n for signal n); the command is SIGKILLed if this process dies.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import termios
from typing import Any

import agent.runtime.pty as pty
import agent.runtime.syscalls as sc
from agent.runtime.container import InitError, drop_privileges, lookup

NAMESPACES = (("cgroup", sc.CLONE_NEWCGROUP), ("ipc", sc.CLONE_NEWIPC),
              ("uts", sc.CLONE_NEWUTS), ("net", sc.CLONE_NEWNET), ("pid", sc.CLONE_NEWPID),
              ("mnt", sc.CLONE_NEWNS))


def enter(req: dict[str, Any], sys_: sc.Syscalls) -> None:
    pid = str(os.getpid()).encode()
    for procs in req["cgroup_procs"]:
        with open(procs, "wb") as f:
            f.write(pid)
    fds = [(os.open(f"/proc/{req['pid']}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag)
           for name, flag in NAMESPACES]
    for fd, flag in fds:
        sys_.setns(fd, flag)
        os.close(fd)


def child(req: dict[str, Any], errfd: int, slave: int, sys_: sc.Syscalls) -> None:
    try:
        if slave >= 0:
            for target in (0, 1, 2):
                os.dup2(slave, target)
            os.close(slave)
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        wd = req["working_dir"] or "/"
        os.chdir(wd)
        exe = lookup(req["argv"][0], req["env"], wd)
        drop_privileges(req["uid"], req["gid"], req["additional_gids"], req["cap_mask"],
                        req["no_new_privs"], req.get("seccomp_profile", "RuntimeDefault"), sys_)
        sys_.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
        if os.getppid() != 0:  # our parent is outside this PID namespace: 0 until it dies
            os._exit(137)
        sys_.close_range(3, 0xFFFFFFFF, sc.CLOSE_RANGE_CLOEXEC)
        os.execve(exe, req["argv"], dict(e.split("=", 1) for e in req["env"]))
    except InitError as e:
        msg = str(e)
    except OSError as e:
        msg = f'exec: "{req["argv"][0]}": {e.strerror or e}'
    except BaseException as e:
        msg = f"exec: {e}"
    try:
        os.write(errfd, msg.encode())
    finally:
        os._exit(127)


def main(argv: list[str], sys_: sc.Syscalls = sc.SYS) -> int:
    req = json.loads(argv[1])
    errfd, console_fd = int(argv[2]), int(argv[3])
    slave = -1
    try:
        enter(req, sys_)
        if req["tty"]:
            master, slave = pty.open_pty()
            os.fchown(slave, req["uid"], req["gid"])
            pty.send_fd(console_fd, master)
            os.close(master)
    except OSError as e:
        os.write(errfd, f"exec: cannot enter the container: {e}".encode())
        return 126
    finally:
        os.close(console_fd)
    pid = os.fork()
    if pid == 0:
        child(req, errfd, slave, sys_)
    os.close(errfd)
    if slave >= 0:
        os.close(slave)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: os.kill(pid, s))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
