"""The agent's side of the shim zygote (``agent.runtime.zygote``): start it lazily,
ask it for shims, and say plainly when it did not take a request so the
caller can spawn the shim itself.

``request()`` returns the forked shim's pid; None if the zygote surely did
not take the request (no socket, nobody listening, a refusal); ``MAYBE`` if
it cannot tell (the connection broke or no answer came; a zygote that does
not answer in time is killed, so it cannot fork later).  After ``MAYBE`` the
caller reads its sync pipe to EOF: the pipe is the ground truth -- a shim,
if one was forked, holds the write end and answers; otherwise EOF comes at
once and the caller falls back to spawning.

There is one zygote per state dir.  The first request finding none starts
one (``start_new_session``, stderr to ``zygote.log``); requests wait up to
``START_WAIT`` after that start for it to listen, then fall back.  Restarts
are at most one per ``RESTART_BACKOFF``.
A zygote left by an earlier agent keeps serving until it has no shims left.
"""

from __future__ import annotations

import array
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import agent.runtime.sealedexe as sealedexe
from agent.runtime.helpers import helper_argv, helper_env
from agent.runtime.zygote_proto import SOCKET_NAME, peer, sockaddr

REPLY_TIMEOUT = 10.0
MAYBE = 0   # request(): a shim may or may not have been forked
RESTART_BACKOFF = 2.0
START_WAIT = 3.0   # how long after starting a zygote requests wait for it to listen


class ZygoteClient:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / SOCKET_NAME
        self._proc: subprocess.Popen[bytes] | None = None
        self._draining: list[subprocess.Popen[bytes]] = []   # earlier zygotes of ours
        self._last_start = -RESTART_BACKOFF
        self._lock = threading.Lock()
        self.pid: int | None = None   # the zygote's pid, as last seen by a request
        self.forked = 0               # shims it forked for us (benchmarks, tests)

    def request(self, spec_path: Path, sync_w: int) -> int | None:
        reply = self._exchange(b"shim " + os.fsencode(spec_path), [sync_w])
        if reply is not None and reply.startswith("ok "):
            self.forked += 1
            return int(reply[3:])
        if reply == "" or (reply is not None and reply.startswith("error ")):
            return None   # no zygote, or it refused: surely no shim
        return MAYBE

    def hold_namespaces(self, kinds: dict[str, Path]) -> bool:
        """Have the zygote make a pod's namespaces (``ns`` request); False: it did
        not (the caller cleans up any mount and does it the other way)."""
        args = "\n".join(f"{kind}={path}" for kind, path in kinds.items())
        return self._exchange(os.fsencode(f"ns {args}"), []) == "ok"

    def _exchange(self, message: bytes, fds: list[int]) -> str | None:
        """Send one request, return the answer: "" if there is no zygote to ask,
        None if the exchange broke after sending (it may have acted)."""
        try:
            conn = self._connect_or_wait()
        except OSError:
            return ""
        with conn:
            try:
                self.pid = peer(conn)[0]
                conn.settimeout(REPLY_TIMEOUT)
                anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
                conn.sendmsg([message], anc)
                return conn.recv(256).decode(errors="replace") or None
            except TimeoutError:
                self._kill_stuck()
                return None
            except OSError:
                return None

    def _connect_or_wait(self) -> socket.socket:
        """Connect; if no zygote listens, start one and wait for it a moment (a
        start meanwhile would cost as much as the zygote's own start)."""
        try:
            return self._connect()
        except OSError:
            self.ensure_started()
        deadline = self._last_start + START_WAIT
        while time.monotonic() < deadline:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                break
            time.sleep(0.005)
            try:
                return self._connect()
            except OSError:
                continue
        raise OSError("no zygote listening")

    def _connect(self) -> socket.socket:
        addr, dirfd = sockaddr(str(self.path))
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            conn.connect(addr)
        except OSError:
            conn.close()
            raise
        finally:
            if dirfd >= 0:
                os.close(dirfd)
        return conn

    def _kill_stuck(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def ensure_started(self) -> None:
        """Start a zygote unless ours is still starting or we tried a moment ago.

        Called when nobody listens.  Ours may still run and not listen: it refused
        stale code, or lost its socket path, and only reaps its shims now; a new
        one takes over the path and the old one is reaped here once it exits."""
        with self._lock:
            self._draining = [p for p in self._draining if p.poll() is None]
            now = time.monotonic()
            running = self._proc is not None and self._proc.poll() is None
            if running and now - self._last_start < START_WAIT:
                return   # still starting
            if now - self._last_start < RESTART_BACKOFF:
                return
            if running and self._proc is not None:
                self._draining.append(self._proc)
            self._last_start = now
            try:
                with open(self.state_dir / "zygote.log", "ab") as log:
                    self._proc = subprocess.Popen(
                        helper_argv("zygote", str(self.state_dir)), env=helper_env(),
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                        start_new_session=True, cwd="/",
                        # shims and inits forked from it run this copy (sealedexe.py)
                        executable=sealedexe.path(),
                    )
            except OSError:
                self._proc = None   # spawning shims ourselves still works

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the zygote we started (tests, benchmarks); shims keep running."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)

