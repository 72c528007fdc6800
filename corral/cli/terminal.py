"""The client side of an interactive stream (`corral exec`, `attach`, `run -i`): stdin
and terminal resizes in, stdout/stderr out, the terminal raw with a tty (restored
always)."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, TextIO

from corral.cli.common import Cli
from proto import agent_pb2


def _binary(stream: TextIO) -> BinaryIO | None:
    buf = getattr(stream, "buffer", None)
    return buf if buf is not None else None


def write_bytes(stream: TextIO, data: bytes) -> None:
    buf = _binary(stream)
    if buf is not None:
        stream.flush()
        buf.write(data)
        buf.flush()
    else:
        stream.write(data.decode("utf-8", errors="replace"))
        stream.flush()


def terminal_size(fd: int) -> agent_pb2.TerminalSize | None:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return agent_pb2.TerminalSize(width=size.columns, height=size.lines)


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def tty_mode(cli: Cli, stdin: bool, tty: bool) -> bool:
    """Whether to run with a terminal: -t needs -i and a terminal on stdin (kubectl's rule)."""
    if tty and (not stdin or not os.isatty(sys.stdin.fileno())):
        if stdin:
            cli.err.write("Unable to use a TTY - input is not a terminal or the right kind of "
                          "file\n")
        return False
    return tty


def session(cli: Cli, open_stream: Callable[[Iterable[Any]], Any], message: Any,
            stdin: bool, tty: bool, banner: str = "") -> tuple[int | None, str]:
    """Run one interactive stream; (the exit code from its `exit` message or None, its error).

    `open_stream(inputs)` starts the call (the start message is its business); `message`
    is the input message class (ExecInput, AttachInput: fields stdin, resize, close_stdin).
    `banner` goes to stderr once the terminal is raw (so what is typed after it is kept).
    """
    stdin_fd = sys.stdin.fileno() if stdin else -1
    inputs: queue.Queue[Any] = queue.Queue()

    def requests() -> Iterator[Any]:
        while (item := inputs.get()) is not None:
            yield item

    def pump_stdin() -> None:
        while True:
            try:
                data = os.read(stdin_fd, 32 * 1024)
            except OSError:
                data = b""
            if not data:
                inputs.put(message(close_stdin=True))
                return
            inputs.put(message(stdin=data))

    old_winch = None
    if tty and hasattr(signal, "SIGWINCH"):
        def on_winch(signum: int, frame: object) -> None:
            size = terminal_size(stdin_fd)
            if size is not None:
                inputs.put(message(resize=size))

        old_winch = signal.signal(signal.SIGWINCH, on_winch)
    exit_code: int | None = None
    error = ""
    raw = raw_terminal(stdin_fd) if tty else contextlib.nullcontext()
    stream = None
    try:
        with raw:     # raw before the session starts, so no keystroke is cooked
            stream = open_stream(requests())
            if banner:
                cli.err.write(banner.replace("\n", "\r\n") if tty else banner)
                cli.err.flush()
            if stdin:
                threading.Thread(target=pump_stdin, name="stdin", daemon=True).start()
            for out in stream:
                which = out.WhichOneof("output")
                if which == "stdout":
                    write_bytes(cli.out, out.stdout)
                elif which == "stderr":
                    write_bytes(cli.err, out.stderr)
                elif which == "exit":
                    exit_code, error = out.exit.exit_code, out.exit.error
                    break
    finally:
        inputs.put(None)
        if stream is not None:
            stream.cancel()
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
    return exit_code, error
