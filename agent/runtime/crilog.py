"""The CRI log format: ``<RFC3339Nano> <stream> <F|P> <content>\\n``.

``F`` marks the last piece of a line (a full line), ``P`` a partial piece:
lines longer than ``MAX_LINE`` bytes are split, and so is anything still
buffered when the stream ends without a newline (written as ``F``, like
containerd).
"""

from __future__ import annotations

import os
import time

MAX_LINE = 16 * 1024


def timestamp(ns: int) -> str:
    """RFC 3339 with nine fractional digits, UTC (containerd's fixed-width form)."""
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def format_line(ns: int, stream: str, content: bytes, partial: bool = False) -> bytes:
    tag = b"P" if partial else b"F"
    return b"%s %s %s %s\n" % (timestamp(ns).encode(), stream.encode(), tag, content)


class LineSplitter:
    """Feed raw bytes of one stream; get back (content, partial) pieces to log."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        self.buf += data
        out: list[tuple[bytes, bool]] = []
        while True:
            nl = self.buf.find(b"\n", 0, self.max_line + 1)
            if nl >= 0:
                out.append((self.buf[:nl], False))
                self.buf = self.buf[nl + 1 :]
            elif len(self.buf) > self.max_line:
                out.append((self.buf[: self.max_line], True))
                self.buf = self.buf[self.max_line :]
            else:
                return out

    def flush(self) -> list[tuple[bytes, bool]]:
        if not self.buf:
            return []
        rest, self.buf = self.buf, b""
        return [(rest, False)]


class LogWriter:
    """Appends CRI lines for several streams to one file descriptor."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.splitters: dict[str, LineSplitter] = {}
        self.dropped = 0

    def _emit(self, stream: str, pieces: list[tuple[bytes, bool]]) -> None:
        if not pieces:
            return
        now = time.time_ns()
        data = b"".join(format_line(now, stream, c, p) for c, p in pieces)
        try:
            while data:
                n = os.write(self.fd, data)
                data = data[n:]
        except OSError:
            self.dropped += len(data)  # disk full or log gone: never block the container

    def write(self, stream: str, data: bytes) -> None:
        sp = self.splitters.setdefault(stream, LineSplitter())
        self._emit(stream, sp.feed(data))

    def close_stream(self, stream: str) -> None:
        sp = self.splitters.pop(stream, None)
        if sp is not None:
            self._emit(stream, sp.flush())
