"""The per-container supervisor: ``python3 -S -m agent.runtime.shim SPEC.marshal SYNC_FD``.

Usually forked by the node's zygote (zygote.py: no interpreter start, pages
shared with the zygote), else started by the agent as a new interpreter;
either way detached (own session, stdio on /dev/null and ``shim.log``), so
it outlives the agent (and the zygote).  It unshares a PID namespace and
forks the container's init (PID 1 there), waits on a close-on-exec error
pipe to learn whether exec happened, records ``running`` (pid, start ticks,
time) or the start error in ``state.json``, tells the agent on SYNC_FD
(``ok <pid>`` / ``error <reason>``; the agent may be gone, that is fine),
copies stdout/stderr to the log in CRI format (and, for a container with
stdin or a tty, to the clients of its attach socket, attach_hub.py, whose
input it relays to the container's stdin: a pipe it holds, or the pty),
reaps the init and records exit code, signal, OOM kill and finish time,
then exits (shim_io.py: the stdio and the copy loop).  Kept lean (about
4 MB PSS spawned, most of it the interpreter; 1.5-2.5 MB forked): no site (-S), and no typing, json,
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

import agent.runtime.shim_io as shim_io
import agent.runtime.state as state
import agent.runtime.syscalls as sc

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


def reset_signals() -> None:
    """Every signal disposition back to the default.  One Python knows to be the
    default already is skipped (it reads every disposition at start-up and makes
    every change itself): in a forked child, most are, and each is a syscall."""
    for sig in range(1, _signal.NSIG):
        if sig not in (SIGKILL, SIGSTOP):
            try:
                if _signal.getsignal(sig) != _signal.SIG_DFL:
                    _signal.signal(sig, _signal.SIG_DFL)
            except (OSError, ValueError):
                pass


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

    def save(self, **changes: Any) -> None:
        self.record.update(changes)
        state.write_json_atomic(self.state_path, self.record)

    def run(self, sync_fd: int) -> int:
        child_fds, streams, stdin_w = shim_io.stdio(self.spec)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        console = console_child = -1
        if self.spec.init.tty:
            import socket  # only for tty containers

            import agent.runtime.pty as pty  # before fork: the init pivots away from our files

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
        self.save()   # "created": written while the init sets up (and waits on its cgroups)
        for fd in set(child_fds):
            os.close(fd)
        os.close(err_w)
        if console >= 0:
            import agent.runtime.pty as pty

            os.close(console_child)
            master = pty.recv_fd(console)
            if master is not None:
                streams[master] = "stdout"
            os.close(console)
        else:
            master = -1
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
        poller = select.poll()
        hub = shim_io.attach_hub(self.spec, poller, stdin_w, -1 if master is None else master)
        self.save(status="running", pid=pid, pid_start=state.proc_start_ticks(pid),
                  started_at=time.time_ns())
        notify(sync_fd, f"ok {pid}")
        status = shim_io.pump(self.spec.log_path, pid, streams, poller, hub)
        if hub is not None:   # gone before the exit is on record: no attach after it
            hub.stop_listening()
        code = self.finish(status, oom_count(self.spec.oom_file) > oom_before)
        if hub is not None:
            hub.close(code)
        return 0

    def become_init(self, child_fds: list[int], streams: dict[int, str], console: int,
                    console_child: int, err_w: int) -> None:
        """In the forked child: reset signals and stdio, then the container init."""
        reset_signals()
        for fd in streams:
            os.close(fd)
        for target, fd in enumerate(child_fds[:3]):
            os.dup2(fd, target)
        if console >= 0:
            os.close(console)
        # imported here, before the init pivots away from our files: the shim
        # itself never needs the container setup code in its memory
        import agent.runtime.container as container

        container.run(self.spec.init, err_w, console_fd=console_child)

    def finish(self, status: int, oom_killed: bool) -> int:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            code = 128 + sig
        else:
            sig, code = 0, os.waitstatus_to_exitcode(status)
        reason = "OOMKilled" if oom_killed else "Completed" if code == 0 else "Error"
        self.save(status="exited", exit_code=code, signal=sig, oom_killed=oom_killed,
                  reason=reason, finished_at=time.time_ns())
        return code


def main(argv: list[str]) -> int:
    for sig in (_signal.SIGPIPE, _signal.SIGHUP, _signal.SIGINT):
        _signal.signal(sig, _signal.SIG_IGN)
    return Shim(load_spec(argv[1])).run(int(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
