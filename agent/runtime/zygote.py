"""The per-node shim zygote: ``python3 -S -m agent.runtime.zygote STATE_DIR``.

Starting a shim as a new interpreter costs an interpreter start plus its
imports (tens of ms, more under load) and ~3-4 MB of private memory per
container.  The zygote pays that once: it imports the shim and the
container-init code, calls ``gc.freeze()`` and then forks one shim per
container on request.  Forked shims share the interpreter's pages with the
zygote copy-on-write, so their PSS is the few pages they dirty plus a share
of the rest.

Protocol (``STATE_DIR/zygote.sock``, a unix stream socket, mode 0600; the
peer must have our uid and our mount namespace, so the shims see the
agent's mounts): the client sends ``shim <path>`` of a ``spec.marshal``
under ``STATE_DIR/containers/`` with the write end of its sync pipe attached
(SCM_RIGHTS); the zygote answers ``ok <shim pid>`` or ``error <why>`` and
closes.  ``ns ipc=<file>[\\nnet=<file>]`` (files under ``STATE_DIR/pods/``)
has the zygote make a pod's namespaces itself (unshare, the loopback up,
bind-mount them there, setns back into its own: no fork; what util-linux
``unshare`` and ``ip`` do otherwise, two execs); the answer is ``ok`` once
they are mounted.  A zygote that cannot get back into its own namespaces
exits.  A forked shim talks
to the client on the sync pipe exactly as a spawned shim does
(``agent.runtime.shim``).  Anything else -- no socket, a refusal, a dead
zygote -- makes the client spawn the shim itself.

The forked shim starts a new session and is made a clean process
(zygote_child.py: signal dispositions and mask reset, the zygote's fds
closed, fresh stdio, ``random`` reseeded); its container init joins the
container's cgroups as before.  Having answered, the zygote starts the RCU
grace period that join waits for (``prime``, zygote_proto.own_cgroup_procs; on
cgroup v2 hosts: a v1 init joins through ``tasks``, which waits for none).
It reaps its shims (and, as a child subreaper, any init orphaned by a
killed shim): no zombie is left per container.  Shims outlive it: after a
``kill -9`` of the zygote they run on and still record their exit.

It refuses and stops listening when any ``agent.*`` module it loaded changed
on disk (an upgraded agent must not get old code; the client then starts a
fresh zygote), and stops listening once its socket path no longer holds its
socket (the state dir was removed, or a newer zygote took the path).  It
exits when it is not listening or its parent (the agent that started it) is
gone, and it has no shim left to reap.
"""

from __future__ import annotations

import _socket
import gc
import os
import select
import sys

import agent.runtime.caps as caps
import agent.runtime.container as _container  # noqa: F401  (preloaded for the inits)
import agent.runtime.seccomp as seccomp
import agent.runtime.shim as shim
import agent.runtime.syscalls as sc
import agent.runtime.zygote_child as zygote_child
from agent.runtime.zygote_proto import (
    SOCKET_NAME,
    code_stamp,
    own_cgroup_procs,
    peer,
    same_mount_ns,
    sockaddr,
)

_signal = shim._signal
HOUSEKEEPING_MS = 1000
SPARE_IDLE_MS = 20   # a spare shim is forked once no request came for this long
MAX_REQUEST = 4096
SIGCHLD = 17


class Zygote:
    def __init__(self, state_dir: str) -> None:
        self.state_dir = os.path.realpath(state_dir)
        self.containers = os.path.join(self.state_dir, "containers") + "/"
        self.pods = os.path.join(self.state_dir, "pods") + "/"
        self.path = os.path.join(self.state_dir, SOCKET_NAME)
        self.parent = os.getppid()
        self.children: set[int] = set()
        self.sock: _socket.socket | None = None
        self.inode = 0
        self.lost_home = False
        # a forked child waiting to become the next shim (zygote_child.become_spare):
        # (its pid, our end of the socket it waits on); forked while idle
        self.spare: tuple[int, _socket.socket] | None = None
        self.stamp = code_stamp()
        # cgroup v1 inits join through ``tasks`` (container.join_cgroups), which needs no
        # grace period: priming would only hold the cgroup mutex, that long, for nothing
        self.prime_path = own_cgroup_procs() if os.path.exists(
            "/sys/fs/cgroup/cgroup.controllers") else ""
        self.home_ns = zygote_child.open_home_namespaces()
        _warm_caches()

    # ---- listening -------------------------------------------------------------
    def listen(self) -> None:
        tmp = f"{self.path}.{os.getpid()}"
        addr, dirfd = sockaddr(tmp)
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            sock.bind(addr)
        finally:
            if dirfd >= 0:
                os.close(dirfd)
        os.chmod(tmp, 0o600)
        sock.listen(64)
        os.rename(tmp, self.path)   # atomic: clients see the old socket or this one
        self.sock, self.inode = sock, os.stat(self.path).st_ino

    def owns_path(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def stop_listening(self) -> None:
        if self.sock is None:
            return
        if self.owns_path():
            try:
                os.unlink(self.path)
            except OSError:
                pass
        self.sock.close()   # connections still queued are reset: their clients fall back
        self.sock = None
        self.drop_spare()

    # ---- requests --------------------------------------------------------------
    def serve_one(self) -> None:
        assert self.sock is not None
        try:
            fd, _ = self.sock._accept()  # type: ignore[attr-defined]
        except OSError:
            return
        conn = _socket.socket(fileno=fd)
        fds: list[int] = []
        try:
            conn.settimeout(5.0)
            msg, anc, _flags, _addr = conn.recvmsg(MAX_REQUEST, _socket.CMSG_SPACE(4))
            for level, kind, data in anc:
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                    fds += [int.from_bytes(data[i:i + 4], sys.byteorder)
                            for i in range(0, len(data) - len(data) % 4, 4)]
            reply = self.handle(msg.decode(errors="replace"), fds, *peer(conn))
            conn.sendall(reply.encode())
            if self.lost_home:   # in a pod's namespaces: never fork a shim from there
                os._exit(70)
            if reply.startswith("ok ") and self.prime_path:
                self.prime()
        except OSError:
            pass  # the client gave up: it falls back once its sync pipe reaches EOF
        finally:
            for f in fds:
                os.close(f)
            conn.close()

    def prime(self) -> None:
        """Start the RCU grace period the new init will wait for (own_cgroup_procs)."""
        try:
            fd = os.open(self.prime_path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"%d" % os.getpid())
            finally:
                os.close(fd)
        except OSError:
            self.prime_path = ""   # not allowed here: just do without

    def handle(self, request: str, fds: list[int], pid: int, uid: int) -> str:
        """``shim <spec path>`` (+ the sync pipe) or ``ns <kind>=<file>[\\n...]``."""
        if uid != os.getuid():
            return "error peer uid refused"
        if not same_mount_ns(pid):   # the shim must see the agent's mounts (layers, volumes)
            return "error the agent is in another mount namespace"
        if code_stamp() != self.stamp:   # the agent was upgraded: never fork old code
            self.stop_listening()
            return "error stale code: the runtime's modules changed on disk"
        verb, _, rest = request.partition(" ")
        if verb == "shim":
            return self.fork_shim(rest, fds)
        if verb == "ns" and not fds:
            return self.hold_namespaces(rest.split("\n"))
        return "error unknown request"

    def fork_shim(self, spec_path: str, fds: list[int]) -> str:
        if len(fds) != 1:
            return "error want exactly one fd (the sync pipe)"
        real = os.path.realpath(spec_path)
        if not real.startswith(self.containers) or not os.path.isfile(real):
            return "error spec is not under this runtime's containers dir"
        if self.spare is not None:   # hand the request to the spare: no fork now
            pid, conn = self.spare
            self.spare = None
            try:
                conn.sendmsg([os.fsencode(real)], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                                                    fds[0].to_bytes(4, sys.byteorder))])
                return f"ok {pid}"
            except OSError:
                pass   # the spare is gone (it exits on the closed socket): fork
            finally:
                conn.close()
        pid = os.fork()
        if pid == 0:
            zygote_child.become_shim(real, fds[0])
        self.children.add(pid)
        return f"ok {pid}"

    def fork_spare(self) -> None:
        """Fork the child that becomes the next shim, while nothing else is asked: the
        fork, its copy-on-write faults and the child's clean-up are then off the path
        of the next container start."""
        ours, theirs = _socket.socketpair(_socket.AF_UNIX,
                                          _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            return
        if pid == 0:
            zygote_child.become_spare(theirs.fileno())
        theirs.close()
        self.children.add(pid)
        self.spare = (pid, ours)

    def drop_spare(self) -> None:
        """Close the spare's socket: it exits unused (and is reaped)."""
        if self.spare is not None:
            self.spare[1].close()
            self.spare = None

    def hold_namespaces(self, args: list[str]) -> str:
        kinds: dict[str, str] = {}
        for arg in args:
            kind, _, path = arg.partition("=")
            real = os.path.realpath(path)
            if kind not in zygote_child.NS_FLAGS or not real.startswith(self.pods) or \
                    not os.path.isfile(real):
                return f"error bad namespace request {arg!r}"
            kinds[kind] = real
        answer, home = zygote_child.make_namespaces(kinds, self.home_ns)
        self.lost_home = not home
        return answer

    # ---- the loop ----------------------------------------------------------------
    def reap(self) -> None:
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)

    def done(self) -> bool:
        if self.sock is None or os.getppid() != self.parent:
            self.drop_spare()
            return not self.children
        return False

    def run(self) -> int:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _signal.set_wakeup_fd(wake_w)
        _signal.signal(SIGCHLD, lambda _sig, _frame: None)
        sc.SYS.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        self.listen()
        assert self.sock is not None
        listen_fd = self.sock.fileno()
        poller = select.poll()
        poller.register(listen_fd, select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        gc.collect()
        gc.freeze()   # from here the heap stays shared with the shims we fork
        while not self.done():
            want_spare = self.sock is not None and self.spare is None
            events = poller.poll(SPARE_IDLE_MS if want_spare else HOUSEKEEPING_MS)
            if not events and want_spare:
                self.fork_spare()
            for fd, _ev in events:
                if fd == wake_r:
                    while _read_nonblock(wake_r):
                        pass
                elif fd == listen_fd and self.sock is not None:
                    self.serve_one()
            self.reap()
            if self.sock is not None and not self.owns_path():
                self.stop_listening()
            if self.sock is None and listen_fd >= 0:
                poller.unregister(listen_fd)
                listen_fd = -1
        self.stop_listening()
        return 0


def _warm_caches() -> None:
    """What every container init computes the same: done once here, inherited by forks."""
    caps.last_cap()
    try:
        seccomp.program()
    except ValueError:
        pass   # no table for this arch: the init reports it for the containers that ask


def _read_nonblock(fd: int) -> bytes:
    try:
        return os.read(fd, 512)
    except BlockingIOError:
        return b""


def main(argv: list[str]) -> int:
    for sig in (_signal.SIGPIPE, _signal.SIGHUP, _signal.SIGINT):
        _signal.signal(sig, _signal.SIG_IGN)
    return Zygote(argv[1]).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
