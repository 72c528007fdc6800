"""CRI log line formatting and splitting."""

from __future__ import annotations

import os
import re
from pathlib import Path

from agent.runtime.crilog import LineSplitter, LogWriter, format_line, timestamp


def test_timestamp_is_rfc3339_nano_utc() -> None:
    assert timestamp(1_795_384_440_123_456_789) == "2026-11-22T21:54:00.123456789Z"
    assert timestamp(1_000_000_000) == "1970-01-01T00:00:01.000000000Z"


def test_format_line() -> None:
    ns = 1_795_384_440_123_456_789
    assert format_line(ns, "stdout", b"hello") == \
        b"2026-11-22T21:54:00.123456789Z stdout F hello\n"
    assert format_line(ns, "stderr", b"par", partial=True) == \
        b"2026-11-22T21:54:00.123456789Z stderr P par\n"


def test_splitter_full_partial_and_flush() -> None:
    sp = LineSplitter(max_line=8)
    assert sp.feed(b"ab\ncd") == [(b"ab", False)]
    assert sp.feed(b"e\n") == [(b"cde", False)]
    assert sp.feed(b"0123456789ab\n") == [(b"01234567", True), (b"89ab", False)]
    assert sp.feed(b"01234567\n") == [(b"01234567", False)]  # exactly max: one full line
    assert sp.feed(b"\n") == [(b"", False)]
    assert sp.feed(b"tail") == []
    assert sp.flush() == [(b"tail", False)]
    assert sp.flush() == []


def test_writer_interleaves_streams(tmp_path: Path) -> None:
    path = tmp_path / "log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    w = LogWriter(fd)
    w.write("stdout", b"a\nb")
    w.write("stderr", b"e\n")
    w.write("stdout", b"c\n")
    w.close_stream("stdout")
    w.close_stream("stderr")
    os.close(fd)
    lines = path.read_text().splitlines()
    pat = re.compile(r"^\S+Z (stdout|stderr) F (.*)$")
    assert [pat.match(ln).groups() for ln in lines] == [  # type: ignore[union-attr]
        ("stdout", "a"), ("stderr", "e"), ("stdout", "bc")]


def test_writer_drops_instead_of_failing() -> None:
    r, w = os.pipe()
    os.close(r)
    writer = LogWriter(w)
    import signal

    old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        writer.write("stdout", b"lost\n")
    finally:
        signal.signal(signal.SIGPIPE, old)
        os.close(w)
    assert writer.dropped > 0
