from __future__ import annotations

import asyncio
from pathlib import Path

from agent import logs


def write(p: Path, *records: tuple[float, str, str, str]) -> None:
    with open(p, "ab") as f:
        for ts, stream, tag, data in records:
            f.write(f"{logs.format_timestamp(ts)} {stream} {tag} {data}\n".encode())


T0 = 1_700_000_000.0


def test_timestamp_roundtrip() -> None:
    assert logs.parse_timestamp("2023-11-14T22:13:20.123456789Z") == T0 + 0.123456789
    assert logs.parse_timestamp("2023-11-14T23:13:20+01:00") == T0
    assert logs.format_timestamp(T0 + 0.5) == "2023-11-14T22:13:20.500000000Z"


def test_tail_since_partials(tmp_path: Path) -> None:
    p = tmp_path / "c.log"
    write(p, (T0, "stdout", "F", "one"), (T0 + 1, "stderr", "F", "two"),
          (T0 + 2, "stdout", "P", "thr"), (T0 + 2.5, "stdout", "F", "ee"),
          (T0 + 3, "stdout", "F", "four with spaces"))
    with open(p, "ab") as f:
        f.write(b"2023-11-14T22:13:25.000000000Z stdout F incomplete")   # no newline yet
    all_ = logs.read_log(str(p))
    assert [e.data for e in all_] == [b"one", b"two", b"three", b"four with spaces"]
    assert [e.stream for e in all_] == ["stdout", "stderr", "stdout", "stdout"]
    assert [e.data for e in logs.read_log(str(p), tail=2)] == [b"three", b"four with spaces"]
    assert logs.read_log(str(p), tail=0) == []
    assert [e.data for e in logs.read_log(str(p), since=T0 + 1)] == \
        [b"two", b"three", b"four with spaces"]
    assert [e.data for e in logs.read_log(str(p), tail=1, since=T0 + 10)] == []
    e = all_[0]
    assert logs.render(e, False) == b"one\n"
    assert logs.render(e, True) == b"2023-11-14T22:13:20.000000000Z one\n"


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert logs.read_log(str(tmp_path / "nope.log")) == []


def test_follow_sees_new_lines_until_finished(tmp_path: Path) -> None:
    p = tmp_path / "c.log"
    write(p, (T0, "stdout", "F", "a"), (T0 + 1, "stdout", "F", "b"))
    done = False

    async def finished() -> bool:
        return done

    async def go() -> list[bytes]:
        nonlocal done
        got: list[bytes] = []
        async for e in logs.follow(str(p), 1, None, finished, poll=0.01):
            got.append(e.data)
            if e.data == b"b":
                write(p, (T0 + 2, "stdout", "F", "c"))
            if e.data == b"c":
                write(p, (T0 + 3, "stderr", "F", "d"))
                done = True
        return got

    assert asyncio.run(asyncio.wait_for(go(), 10)) == [b"b", b"c", b"d"]
