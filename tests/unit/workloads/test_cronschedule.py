"""Cron schedules as Kubernetes' CronJob reads them: the next activation, in a time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from controlplane.cronschedule import CronError, parse

T0 = datetime(2024, 1, 31, 23, 59, 30, tzinfo=UTC)   # a Wednesday


def nexts(expr: str, n: int = 3, start: datetime = T0, tz=UTC) -> list[str]:
    s = parse(expr)
    out, t = [], start
    for _ in range(n):
        t = s.next(t, tz)
        assert t is not None
        out.append(t.astimezone(UTC).strftime("%Y-%m-%d %H:%M"))
    return out


@pytest.mark.parametrize(("expr", "want"), [
    ("* * * * *", ["2024-02-01 00:00", "2024-02-01 00:01", "2024-02-01 00:02"]),
    ("*/15 9-17 * * MON-FRI", ["2024-02-01 09:00", "2024-02-01 09:15", "2024-02-01 09:30"]),
    ("0 0 29 2 *", ["2024-02-29 00:00", "2028-02-29 00:00", "2032-02-29 00:00"]),
    ("@hourly", ["2024-02-01 00:00", "2024-02-01 01:00", "2024-02-01 02:00"]),
    ("@daily", ["2024-02-01 00:00", "2024-02-02 00:00", "2024-02-03 00:00"]),
    ("@weekly", ["2024-02-04 00:00", "2024-02-11 00:00", "2024-02-18 00:00"]),
    ("@monthly", ["2024-02-01 00:00", "2024-03-01 00:00", "2024-04-01 00:00"]),
    ("@yearly", ["2025-01-01 00:00", "2026-01-01 00:00", "2027-01-01 00:00"]),
    # both day fields restricted: either matches (1st of the month, or a Sunday)
    ("0 12 1 * sun", ["2024-02-01 12:00", "2024-02-04 12:00", "2024-02-11 12:00"]),
    ("5/20 * * * *", ["2024-02-01 00:05", "2024-02-01 00:25", "2024-02-01 00:45"]),
    ("0 0 1,15 jan-mar ?", ["2024-02-01 00:00", "2024-02-15 00:00", "2024-03-01 00:00"]),
    ("@every 90m", ["2024-02-01 01:29", "2024-02-01 02:59", "2024-02-01 04:29"]),
])
def test_next_activations(expr, want):
    assert nexts(expr) == want


def test_time_zone():
    # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer
    ny = ZoneInfo("America/New_York")
    assert nexts("0 9 * * *", 1, tz=ny) == ["2024-02-01 14:00"]
    summer = datetime(2024, 7, 1, tzinfo=UTC)
    assert nexts("0 9 * * *", 1, start=summer, tz=ny) == ["2024-07-01 13:00"]


def test_a_schedule_that_never_fires():
    assert parse("59 23 31 2 *").next(T0, UTC) is None


@pytest.mark.parametrize(("expr", "why"), [
    ("", "empty spec string"),
    ("* * *", "expected exactly 5 fields, found 3"),
    ("60 * * * *", "end of range (60) above maximum (59)"),
    ("* * 0 * *", "beginning of range (0) below minimum (1)"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1)"),
    ("*/0 * * * *", "step of range should be a positive number"),
    ("x * * * *", "failed to parse int from x"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every soon", "failed to parse duration"),
])
def test_invalid(expr, why):
    with pytest.raises(CronError) as e:
        parse(expr)
    assert why in str(e.value)
