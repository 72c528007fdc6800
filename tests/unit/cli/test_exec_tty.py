"""`corral exec -it` on a pseudo-terminal: raw mode, the initial size, SIGWINCH -> resize."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import signal
import struct
import sys
import termios
import threading

import pytest

from corral.cli.main import run
from tests.unit.cli.fake_api import FakeServer


class _TtyStdin(io.TextIOBase):
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return True


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals need the main thread")
def test_exec_it_raw_mode_and_resize(fake_server: FakeServer,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = pty.openpty()
    try:
        _set_size(slave, 24, 80)
        before = termios.tcgetattr(slave)
        monkeypatch.setattr(sys, "stdin", _TtyStdin(slave))
        api = fake_server.api
        seen_raw: list[bool] = []

        def drive() -> None:
            assert api.exec_started.wait(10)
            attrs = termios.tcgetattr(slave)
            seen_raw.append(not attrs[3] & termios.ICANON)
            _set_size(slave, 50, 132)
            os.kill(os.getpid(), signal.SIGWINCH)
            assert api.resized.wait(10)
            os.write(master, b"hello q")

        t = threading.Thread(target=drive)
        t.start()
        out, err = io.StringIO(), io.StringIO()
        code = run(["--server", fake_server.address, "exec", "-it", "web", "--", "sh"],
                   out=out, err=err)
        t.join(10)
        assert code == 0, err.getvalue()
        start = api.exec_calls[-1]
        assert start.tty and start.stdin
        assert (start.size.width, start.size.height) == (80, 24)
        assert [(r.width, r.height) for r in api.resizes] == [(132, 50)]
        assert seen_raw == [True]
        assert "hello q" in out.getvalue()
        assert termios.tcgetattr(slave) == before      # the terminal is restored
    finally:
        os.close(master)
        os.close(slave)


def test_exec_t_without_a_terminal_warns(fake_server: FakeServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    r, w = os.pipe()
    os.write(w, b"data")
    os.close(w)

    class _Pipe(io.TextIOBase):
        def fileno(self) -> int:
            return r

    monkeypatch.setattr(sys, "stdin", _Pipe())
    out, err = io.StringIO(), io.StringIO()
    try:
        code = run(["--server", fake_server.address, "exec", "-it", "web", "--", "cat"],
                   out=out, err=err)
    finally:
        os.close(r)
    assert code == 0
    assert "Unable to use a TTY" in err.getvalue()
    assert out.getvalue() == "cat\ndata"
    assert not fake_server.api.exec_calls[-1].tty
