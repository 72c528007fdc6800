"""Cron schedules as Kubernetes' CronJob reads them (robfig/cron's ParseStandard).

    s = parse("*/15 9-17 * * MON-FRI")       # CronError with the reason when invalid
    s = parse("@hourly"); s = parse("@every 90m")
    s.next(after, tz)                        # the first time > after (aware datetime), or
                                             # None when the schedule never fires

Five fields: minute hour day-of-month month day-of-week; `*` and `?`, lists, ranges,
steps (`*/5`, `1-30/2`, `5/10` = `5-max/10`), month and weekday names (JAN, MON),
case-insensitive. When both day fields are restricted a day matches either (cron's
rule); when one is `*` both must match. Macros: @yearly (@annually), @monthly, @weekly,
@daily (@midnight), @hourly, and @every DURATION. Times are matched in the CronJob's
time zone (`timeZone`, else the control plane's local zone: UTC in the default setup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@hourly": "0 * * * *"}
_MONTHS = {n: i for i, n in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_DAYS = {n: i for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS), ("day-of-week", 0, 6, _DAYS))
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_HORIZON_YEARS = 5


class CronError(ValueError):
    """An expression that is not a valid schedule (the message says why)."""


@dataclass(frozen=True)
class Field:
    values: frozenset[int]
    star: bool          # `*` or `?` (a step of 1): the day fields combine with AND


@dataclass(frozen=True)
class Schedule:
    minute: Field
    hour: Field
    dom: Field
    month: Field
    dow: Field
    every: float = 0.0    # @every: seconds between runs (the fields are unused)

    def _day(self, d: datetime) -> bool:
        dom = d.day in self.dom.values
        dow = (d.weekday() + 1) % 7 in self.dow.values
        if self.dom.star or self.dow.star:
            return dom and dow
        return dom or dow

    def next(self, after: datetime, tz: tzinfo) -> datetime | None:
        """The first activation strictly after `after` (an aware datetime), in `tz`."""
        if self.every:
            step = timedelta(seconds=self.every)
            base = after.replace(microsecond=0)
            return base + step
        t = after.astimezone(tz).replace(second=0, microsecond=0, tzinfo=None) + \
            timedelta(minutes=1)
        end = t + timedelta(days=366 * _HORIZON_YEARS)
        while t < end:
            if t.month not in self.month.values:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hour.values:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minute.values:
                t += timedelta(minutes=1)
                continue
            out = t.replace(tzinfo=tz)
            if out > after:
                return out
            t += timedelta(minutes=1)   # a wall time repeated by a DST change
        return None


def _number(text: str, names: dict[str, int], what: str) -> int:
    up = text.upper()
    if up in names:
        return names[up]
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text}: invalid {what}")
    return int(text)


def _field(expr: str, what: str, lo: int, hi: int, names: dict[str, int]) -> Field:
    values: set[int] = set()
    star = False
    for part in expr.split(","):
        range_step = part.split("/")
        if len(range_step) > 2:
            raise CronError(f"too many slashes: {part}")
        low_high = range_step[0].split("-")
        if low_high[0] in ("*", "?"):
            if len(low_high) > 1:
                raise CronError(f"too many hyphens: {part}")
            start, end, part_star = lo, hi, True
        else:
            if len(low_high) > 2:
                raise CronError(f"too many hyphens: {part}")
            start = _number(low_high[0], names, what)
            end = _number(low_high[1], names, what) if len(low_high) == 2 else start
            part_star = False
        step = 1
        if len(range_step) == 2:
            step = _number(range_step[1], {}, what)
            if len(low_high) == 1 and not part_star:
                end = hi          # "N/step" means "N-max/step"
            if step > 1:
                part_star = False
        if start < lo:
            raise CronError(f"beginning of range ({start}) below minimum ({lo}): {part}")
        if end > hi:
            raise CronError(f"end of range ({end}) above maximum ({hi}): {part}")
        if start > end:
            raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        if step == 0:
            raise CronError(f"step of range should be a positive number: {part}")
        values.update(range(start, end + 1, step))
        star = star or part_star
    return Field(frozenset(values), star)


def _every(text: str) -> float:
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise CronError(f"failed to parse duration @every {text}: time: invalid duration "
                        f'"{text}"')
    if total < 1:
        total = 1.0     # robfig rounds @every below a second up to one second
    return float(int(total))


def parse(spec: str) -> Schedule:
    """A schedule from a standard cron expression or a macro; CronError when invalid."""
    text = spec.strip()
    if not text:
        raise CronError("empty spec string")
    if text.startswith("@"):
        if text.startswith("@every "):
            every = _every(text[len("@every "):].strip())
            star = Field(frozenset(), True)
            return Schedule(star, star, star, star, star, every=every)
        if text not in MACROS:
            raise CronError(f"unrecognized descriptor: {text}")
        text = MACROS[text]
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(parts)}: [{' '.join(parts)}]")
    fields = [_field(p, what, lo, hi, names)
              for p, (what, lo, hi, names) in zip(parts, _FIELDS, strict=True)]
    return Schedule(fields[0], fields[1], fields[2], fields[3], fields[4])
