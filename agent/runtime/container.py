"""The container's init: runs in the shim's child (PID 1 of a new PID namespace).

Between fork and exec: join the cgroup, join (or create) the pod's IPC and
network namespaces, new mount/UTS/cgroup namespaces, hostname, root
filesystem and pivot_root, drop capabilities, switch user, no_new_privs,
the seccomp filter (seccomp.py), close every fd but 0-2 (close_range
CLOEXEC), chdir, exec the command
resolved against PATH inside the root.  Any failure is written to
``errfd`` (close-on-exec, so a successful exec closes it with nothing
written) and the process exits 127.  Imported by the shim: stdlib only, and
every import happens before pivot_root (the container has no Python).
"""

from __future__ import annotations

import fcntl
import os
import termios

import agent.runtime.caps as caps
import agent.runtime.rootfs as rootfs
import agent.runtime.seccomp as seccomp
import agent.runtime.syscalls as sc
from agent.runtime.defaults import DEFAULT_PATH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

    from agent.runtime.spec import InitSpec


class InitError(Exception):
    """A failure to report verbatim as the start error's reason."""


def lookup(argv0: str, env: list[str], working_dir: str) -> str:
    """Resolve like Go's exec.LookPath, from inside the new root."""
    if "/" in argv0:
        path = os.path.join(working_dir, argv0)
        if not os.path.exists(path):
            raise InitError(f'exec: "{argv0}": stat {argv0}: no such file or directory')
        return path
    env_path = next((e[5:] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
    for d in env_path.split(":"):
        candidate = os.path.join(d or ".", argv0)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise InitError(f'exec: "{argv0}": executable file not found in $PATH')


def join_namespaces(spec: InitSpec, sys_: sc.Syscalls) -> None:
    flags = sc.CLONE_NEWNS | sc.CLONE_NEWUTS
    if os.path.exists("/proc/self/ns/cgroup"):  # cgroup namespaces: Linux 4.6+
        flags |= sc.CLONE_NEWCGROUP
    for path, nstype in ((spec.ipc_ns, sc.CLONE_NEWIPC), (spec.net_ns, sc.CLONE_NEWNET)):
        if path:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                sys_.setns(fd, nstype)
            finally:
                os.close(fd)
        else:
            flags |= nstype
    sys_.unshare(flags)


def drop_privileges(uid: int, gid: int, groups: list[int], cap_mask: int, no_new_privs: bool,
                    seccomp_profile: str, sys_: sc.Syscalls) -> None:
    """Capabilities, user, no_new_privs and the seccomp filter (shared with nsexec).

    Not dumpable until the exec (which resets it): the container's other
    processes cannot open our /proc/PID/exe, the host's binary.  The filter
    goes in last, after no_new_privs; without no_new_privs it must go in
    first, while we still hold CAP_SYS_ADMIN (as runc does)."""
    sys_.prctl(sc.PR_SET_DUMPABLE, 0)
    program = seccomp.program() if seccomp_profile == "RuntimeDefault" else b""
    if program and not no_new_privs:
        sys_.set_seccomp_filter(program)
    caps.drop_bounding(cap_mask, sys_)
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    caps.set_process_caps(cap_mask, uid, sys_)
    if no_new_privs:
        sys_.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        if program:
            sys_.set_seccomp_filter(program)


def set_user(spec: InitSpec, sys_: sc.Syscalls) -> None:
    drop_privileges(spec.uid, spec.gid, spec.additional_gids, spec.cap_mask, spec.no_new_privs,
                    spec.seccomp_profile, sys_)


def attach_console(console_fd: int, uid: int, gid: int) -> None:
    """Open a pty in our /dev/pts, send the master to the shim, make the slave our tty."""
    import agent.runtime.pty as pty  # imported by the shim before fork (tty only)

    master, slave = pty.open_pty()
    os.fchown(slave, uid, gid)
    pty.send_fd(console_fd, master)
    os.close(master)
    os.close(console_fd)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def join_cgroups(procs_files: list[str]) -> None:
    """Move this process into the container's cgroups (one ``cgroup.procs`` per hierarchy).

    The init is its process's only thread (forked from the single-threaded shim),
    so on cgroup v1 it moves itself through the hierarchy's ``tasks`` file with
    "0" (the calling thread): the same move, which the kernel makes without its
    global threadgroup lock, so without first waiting out an RCU grace period
    (~10 ms after an idle moment; a pid written to ``cgroup.procs`` waits).
    cgroup v2 has no ``tasks`` file: our pid to ``cgroup.procs``, as before."""
    pid = str(os.getpid()).encode()
    for procs in procs_files:
        fd, data = -1, b"0"
        if procs.endswith("/cgroup.procs"):
            try:
                fd = os.open(procs[:-len("cgroup.procs")] + "tasks", os.O_WRONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                fd = -1
        if fd < 0:
            fd, data = os.open(procs, os.O_WRONLY | os.O_CLOEXEC), pid
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def setup(spec: InitSpec, sys_: sc.Syscalls = sc.SYS, console_fd: int = -1) -> str:
    """Everything but the exec; returns the resolved executable path."""
    join_cgroups(spec.cgroup_procs)
    join_namespaces(spec, sys_)
    sys_.sethostname(spec.hostname)
    rootfs.build(spec, sys_)
    rootfs.pivot(spec.rootfs, sys_)
    rootfs.harden(spec, sys_)
    if spec.tty and console_fd >= 0:
        attach_console(console_fd, spec.uid, spec.gid)
    wd = spec.working_dir or "/"
    os.makedirs(wd, exist_ok=True)
    os.chdir(wd)
    if os.getcwd().startswith(("/proc/self/fd", "/proc/thread-self/fd")) or \
            not os.getcwd().startswith("/"):
        raise InitError(f"working directory {wd!r} is not allowed")
    exe = lookup(spec.argv[0], spec.env, wd)
    set_user(spec, sys_)
    sys_.close_range(3, 0xFFFFFFFF, sc.CLOSE_RANGE_CLOEXEC)
    return exe


def run(spec: InitSpec, errfd: int, sys_: sc.Syscalls = sc.SYS,
        console_fd: int = -1) -> NoReturn:
    """Set up and exec; never returns (reports failures on ``errfd``)."""
    try:
        exe = setup(spec, sys_, console_fd)
    except InitError as e:
        msg = str(e)
    except BaseException as e:  # the child must never return into the shim's code
        msg = f"container init: {e}"
    else:
        try:
            os.execve(exe, spec.argv, dict(e.split("=", 1) for e in spec.env))
        except OSError as e:
            msg = f'exec: "{spec.argv[0]}": {os.strerror(e.errno or 0).lower()}'
    try:
        os.write(errfd, msg.encode() or b"unknown error")
    finally:
        os._exit(127)
