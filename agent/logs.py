"""Reading the CRI-format log files the runtime's shims write.

One record per line: `<RFC 3339 nano timestamp> <stdout|stderr> <F|P> <data>`,
where P marks a partial line continued by the next record and F a full one.
Supports tail (last N lines), since (a time), timestamps, follow.
"""

from __future__ import annotations

import asyncio
import calendar
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass


@dataclass
class LogEntry:
    ts: float            # seconds since the epoch
    ts_text: str         # as written
    stream: str          # stdout, stderr
    data: bytes          # the line's content, without the newline
    full: bool = True    # False: a partial line continued by the next record


class LogFormatError(ValueError):
    pass


def parse_timestamp(text: str) -> float:
    """RFC 3339 with up to nanoseconds and 'Z' or an offset."""
    t = text
    offset = 0
    if t.endswith("Z"):
        t = t[:-1]
    elif len(t) > 6 and t[-6] in "+-" and t[-3] == ":":
        sign = 1 if t[-6] == "+" else -1
        offset = sign * (int(t[-5:-3]) * 3600 + int(t[-2:]) * 60)
        t = t[:-6]
    whole, _, frac = t.partition(".")
    try:
        st = time.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    except ValueError as e:
        raise LogFormatError(f"bad timestamp {text!r}") from e
    secs = calendar.timegm(st) - offset
    return secs + (float("0." + frac) if frac else 0.0)


def format_timestamp(ts: float) -> str:
    whole = int(ts)
    nanos = round((ts - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{nanos:09d}Z"


def parse_line(line: bytes) -> LogEntry:
    if line.endswith(b"\n"):
        line = line[:-1]
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        raise LogFormatError(f"not a CRI log line: {line[:80]!r}")
    ts_text = parts[0].decode(errors="replace")
    stream = parts[1].decode(errors="replace")
    tag = parts[2]
    data = parts[3] if len(parts) > 3 else b""
    return LogEntry(parse_timestamp(ts_text), ts_text, stream, data, full=not tag.startswith(b"P"))


def _records(path: str) -> Iterator[LogEntry]:
    try:
        f = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return
    with f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break   # a record still being written
            try:
                yield parse_line(raw)
            except LogFormatError:
                continue


def join_partials(records: Iterator[LogEntry]) -> Iterator[LogEntry]:
    """Merge P records into the F record that ends them (one entry per line)."""
    pending: dict[str, LogEntry] = {}
    for r in records:
        p = pending.pop(r.stream, None)
        if p is not None:
            r = LogEntry(p.ts, p.ts_text, r.stream, p.data + r.data, r.full)
        if r.full:
            yield r
        else:
            pending[r.stream] = r
    yield from pending.values()


def read_log(path: str, tail: int | None = None, since: float | None = None) -> list[LogEntry]:
    """The lines of a log file, after `since` (inclusive), the last `tail` of them."""
    lines = join_partials(_records(path))
    if since is not None:
        lines = (e for e in lines if e.ts >= since)
    if tail is None or tail < 0:
        return list(lines)
    if tail == 0:
        return []
    return list(deque(lines, maxlen=tail))


def render(e: LogEntry, timestamps: bool) -> bytes:
    out = e.data + (b"\n" if e.full else b"")
    if timestamps:
        out = e.ts_text.encode() + b" " + out
    return out


async def follow(path: str, tail: int | None, since: float | None,
                 finished: Callable[[], Awaitable[bool]],
                 poll: float = 0.2) -> AsyncIterator[LogEntry]:
    """The existing lines (as read_log), then new records as they are written,
    until `finished()` says the container has stopped and the file is drained."""
    offset = 0
    existing: list[LogEntry] = []
    try:
        with open(path, "rb") as f:
            data = f.read()
        offset = data.rfind(b"\n") + 1
    except FileNotFoundError:
        pass
    existing = read_log(path, tail, since) if offset else []
    for e in existing:
        yield e
    buf = b""
    while True:
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            size = 0
        if size < offset:       # rotated or truncated
            offset = 0
        if size > offset:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read(size - offset)
            offset += len(chunk)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                try:
                    e = parse_line(raw)
                except LogFormatError:
                    continue
                if since is None or e.ts >= since:
                    yield e
            continue
        if await finished():
            return
        await asyncio.sleep(poll)
