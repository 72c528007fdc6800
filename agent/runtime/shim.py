"""The per-container supervisor: ``python3 -S -m agent.runtime.shim SPEC.marshal SYNC_FD``.

The agent starts it detached (own session, stdio on /dev/null and
``shim.log``), so it outlives the agent.  It unshares a PID namespace and
forks the container's init (PID 1 there), waits on a close-on-exec error
pipe to learn whether exec happened, records ``running`` (pid, start ticks,
time) or the start error in ``state.json``, tells the agent on SYNC_FD
(``ok <pid>`` / ``error <reason>``; the agent may be gone, that is fine),
copies stdout/stderr to the log in CRI format, reaps the init and records
exit code, signal, OOM kill and finish time, then exits.  Kept lean (about
5 MB PSS, most of it the interpreter): no site (-S), and no typing, json,
pathlib, dataclasses, re or enum at run time -- the spec arrives as marshal
data and is read into SimpleNamespaces shaped like spec.ShimSpec.
"""

from __future__ import annotations

import marshal
import os
import select
import sys
import time
from types import SimpleNamespace

from agent.runtime import crilog, state
from agent.runtime import syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from agent.runtime.spec import ShimSpec

_signal: Any = __import__("_signal")  # the C module: signal.py would pull in enum
SIGKILL, SIGSTOP = 9, 19


def _namespace(obj: Any) -> Any:
    if isinstance(obj, dict):
        return SimpleNamespace(**{k: _namespace(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [_namespace(v) for v in obj]
    return obj


def load_spec(path: str) -> ShimSpec:
    with open(path, "rb") as f:
        spec: ShimSpec = _namespace(marshal.load(f))
    return spec

START_ERROR_EXIT = 128


def oom_count(path: str) -> int:
    if not path:
        return 0
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    except OSError:
        pass
    return 0


def notify(fd: int, message: str) -> None:
    try:
        os.write(fd, message.encode())
    except OSError:
        pass  # the agent is gone; the state file says it all
    finally:
        os.close(fd)


class Shim:
    def __init__(self, spec: ShimSpec) -> None:
        self.spec = spec
        self.state_path = spec.state_path
        self.record: dict[str, Any] = {
            "id": spec.init.container_id, "status": "created", "shim_pid": os.getpid(),
            "shim_start": state.proc_start_ticks(os.getpid()), "created_at": time.time_ns(),
        }
        self.save()

    def save(self, **changes: Any) -> None:
        self.record.update(changes)
        state.write_json_atomic(self.state_path, self.record)

    def stdio(self) -> tuple[list[int], dict[int, str]]:
        """(fds 0-2 for the child, {our read end: stream name}); empty for a tty."""
        devnull = os.open("/dev/null", os.O_RDWR)
        if self.spec.init.tty:  # the init opens the pty in its /dev/pts and sends the master
            return [devnull, devnull, devnull], {}
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        return [devnull, out_w, err_w], {out_r: "stdout", err_r: "stderr"}

    def run(self, sync_fd: int) -> int:
        child_fds, streams = self.stdio()
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        console = console_child = -1
        if self.spec.init.tty:
            import socket  # only for tty containers

            from agent.runtime import pty  # before fork: the init pivots away from our files

            pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            console, console_child = pair[0].detach(), pair[1].detach()
        oom_before = oom_count(self.spec.oom_file)
        sc.SYS.unshare(sc.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:  # the container's PID 1
            try:
                self.become_init(child_fds, streams, console, console_child, err_w)
            except BaseException as e:  # never return into the shim's code
                try:
                    os.write(err_w, f"container init: {e}".encode())
                finally:
                    os._exit(127)
        for fd in set(child_fds):
            os.close(fd)
        os.close(err_w)
        if console >= 0:
            from agent.runtime import pty

            os.close(console_child)
            master = pty.recv_fd(console)
            if master is not None:
                streams[master] = "stdout"
            os.close(console)
        failure = b""
        while chunk := os.read(err_r, 4096):
            failure += chunk
        os.close(err_r)
        if failure:
            reason = failure.decode(errors="replace")
            _, status = os.waitpid(pid, 0)
            now = time.time_ns()
            self.save(status="exited", pid=pid, exit_code=START_ERROR_EXIT, signal=0,
                      reason="StartError", message=reason, started_at=now, finished_at=now)
            notify(sync_fd, f"error {reason}")
            return 0
        self.save(status="running", pid=pid, pid_start=state.proc_start_ticks(pid),
                  started_at=time.time_ns())
        notify(sync_fd, f"ok {pid}")
        status = self.pump(pid, streams)
        self.finish(status, oom_count(self.spec.oom_file) > oom_before)
        return 0

    def become_init(self, child_fds: list[int], streams: dict[int, str], console: int,
                    console_child: int, err_w: int) -> None:
        """In the forked child: reset signals and stdio, then the container init."""
        for sig in range(1, _signal.NSIG):
            if sig not in (SIGKILL, SIGSTOP):
                try:
                    _signal.signal(sig, _signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
        for fd in streams:
            os.close(fd)
        for target, fd in enumerate(child_fds[:3]):
            os.dup2(fd, target)
        if console >= 0:
            os.close(console)
        # imported here, before the init pivots away from our files: the shim
        # itself never needs the container setup code in its memory
        from agent.runtime import container

        container.run(self.spec.init, err_w, console_fd=console_child)

    def pump(self, pid: int, streams: dict[int, str]) -> int:
        """Copy output to the log until the child is reaped and the streams end."""
        log_path = self.spec.log_path
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        writer = crilog.LogWriter(log_fd)
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        for fd in [*streams, pidfd]:
            poller.register(fd, select.POLLIN)
        status: int | None = None
        drain_deadline = 0.0
        while streams or status is None:
            timeout = None if status is None else max(0.0, drain_deadline - time.monotonic())
            if status is not None and timeout == 0.0:
                break
            for fd, _ev in poller.poll(None if timeout is None else timeout * 1000):
                if fd == pidfd:
                    _, status = os.waitpid(pid, 0)
                    poller.unregister(pidfd)
                    os.close(pidfd)
                    drain_deadline = time.monotonic() + 2.0
                    continue
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO from a pty master once the slave side is gone
                    data = b""
                if data:
                    writer.write(streams[fd], data)
                else:
                    writer.close_stream(streams.pop(fd))
                    poller.unregister(fd)
                    os.close(fd)
        for fd, name in streams.items():
            writer.close_stream(name)
            os.close(fd)
        os.close(log_fd)
        return status

    def finish(self, status: int, oom_killed: bool) -> None:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            code = 128 + sig
        else:
            sig, code = 0, os.waitstatus_to_exitcode(status)
        reason = "OOMKilled" if oom_killed else "Completed" if code == 0 else "Error"
        self.save(status="exited", exit_code=code, signal=sig, oom_killed=oom_killed,
                  reason=reason, finished_at=time.time_ns())


def main(argv: list[str]) -> int:
    for sig in (_signal.SIGPIPE, _signal.SIGHUP, _signal.SIGINT):
        _signal.signal(sig, _signal.SIG_IGN)
    return Shim(load_spec(argv[1])).run(int(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
