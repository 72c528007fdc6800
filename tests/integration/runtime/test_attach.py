"""Attach to a container's own stdin and output through the shim's attach socket."""

from __future__ import annotations

import os
import socket
import stat
import time

import pytest

from agent.runtime import attach_wire as wire
from agent.runtime.attach_client import resize_frame
from agent.runtime.errors import AttachError
from agent.runtime.runtime import Runtime
from tests.integration.runtime.conftest import SKIP, Env

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(SKIP), reason=SKIP or "")]


class Attached:
    """A test client: send frames, read output until a condition, with a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.out = b""
        self.exit: str | None = None

    def send(self, data: bytes) -> None:
        self.sock.sendall(wire.frame(wire.STDIN, data))

    def read_until(self, want: bytes | None, timeout: float = 20.0) -> bytes:
        """Output until ``want`` appears (None: until the shim closes the connection)."""
        deadline = time.monotonic() + timeout
        while want is None or want not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {want!r}; got {self.out!r}")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                if want is None:
                    break
                raise AssertionError(f"connection closed before {want!r}; got {self.out!r}")
            self.buf += data
            for kind, payload in wire.split(self.buf):
                if kind in (wire.STDOUT, wire.STDERR):
                    self.out += payload
                elif kind == wire.EXIT:
                    self.exit = payload.decode()
        return self.out


def _cat(env: Env, **kw: object) -> str:
    env.sandbox()
    cfg = env.config(["cat"], stdin=True, **kw)
    env.rt.start_container(cfg)
    return cfg.id


def test_typed_input_comes_back_and_stdin_stays_open_across_attaches(env: Env) -> None:
    cid = _cat(env)
    sock_path = env.rt.containers_dir / cid / wire.SOCKET
    st = os.stat(sock_path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    with env.rt.attach(cid, stdin=True) as sock:
        a = Attached(sock)
        a.send(b"hello\n")
        a.read_until(b"hello\n")
    # no stdinOnce: the container's stdin outlives the first session
    with env.rt.attach(cid, stdin=True) as sock:
        a = Attached(sock)
        a.send(b"again\n")
        a.read_until(b"again\n")
    assert env.rt.status(cid).state == "running"
    assert "hello\nagain" in env.output(cid)     # the log keeps the output as before


def test_stdin_once_closes_stdin_when_the_client_detaches(env: Env) -> None:
    cid = _cat(env, stdin_once=True)
    with env.rt.attach(cid, stdin=True) as sock:
        a = Attached(sock)
        a.send(b"once\n")
        a.read_until(b"once\n")
    env.wait_exited(cid)
    info = env.rt.status(cid)
    assert (info.exit_code, info.reason) == (0, "Completed")
    assert not (env.rt.containers_dir / cid / wire.SOCKET).exists()


def test_end_of_client_stdin_with_stdin_once_ends_cat_and_reports_its_exit(env: Env) -> None:
    cid = _cat(env, stdin_once=True)
    watcher = Attached(env.rt.attach(cid))          # output only: does not count for stdinOnce
    with env.rt.attach(cid, stdin=True) as sock:
        a = Attached(sock)
        a.send(b"last line\n")
        sock.sendall(wire.frame(wire.CLOSE_STDIN))
        a.read_until(None)
        assert a.out == b"last line\n" and a.exit == "0"
    watcher.read_until(None)
    assert watcher.out == b"last line\n" and watcher.exit == "0"
    watcher.sock.close()
    env.wait_exited(cid)


def test_tty_resize_is_seen_by_stty(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sh"], stdin=True, tty=True)
    env.rt.start_container(cfg)
    with env.rt.attach(cfg.id, stdin=True) as sock:
        a = Attached(sock)
        sock.sendall(resize_frame(33, 77))
        a.send(b"stty size\n")
        a.read_until(b"33 77")
        sock.sendall(resize_frame(40, 120))
        a.send(b"stty size; exit 3\n")
        a.read_until(b"40 120")
        a.read_until(None)
        assert a.exit == "3"
    env.wait_exited(cfg.id)


def test_attach_survives_an_agent_restart(env: Env) -> None:
    cid = _cat(env)
    again = Runtime(env.rt.state_dir, env.rt.cgroups.root_name, zygote=False)  # a new agent
    with again.attach(cid, stdin=True) as sock:
        a = Attached(sock)
        a.send(b"still here\n")
        a.read_until(b"still here\n")


def test_a_container_without_stdin_or_tty_has_nothing_to_attach(env: Env) -> None:
    env.sandbox()
    cfg = env.config(["sleep", "1000"])
    env.rt.start_container(cfg)
    with pytest.raises(AttachError, match="neither stdin nor a tty"):
        env.rt.attach(cfg.id)
