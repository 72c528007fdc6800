"""Durations and timestamps the way kubectl prints them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


def human_duration(seconds: float) -> str:
    """kubectl's HumanDuration: 45s, 3m20s, 12m, 5h, 5h30m, 20h, 2d, 2d3h, 30d, 2y40d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


def is_set(ts: Timestamp) -> bool:
    return bool(ts.seconds or ts.nanos)


def seconds_of(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def age(ts: Timestamp, now: float | None = None) -> str:
    """The age column: '<unknown>' when the timestamp is unset."""
    if not is_set(ts):
        return "<unknown>"
    return human_duration((time.time() if now is None else now) - seconds_of(ts))


def rfc3339(ts: Timestamp) -> str:
    return datetime.fromtimestamp(ts.seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def long_date(ts: Timestamp) -> str:
    """describe's format: 'Mon, 02 Jan 2006 15:04:05 +0000'."""
    return datetime.fromtimestamp(ts.seconds, UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def format_bytes(n: int) -> str:
    """Memory the way kubectl top prints it: 12Mi, 1Gi."""
    if n >= 1 << 30 and n % (1 << 30) == 0:
        return f"{n >> 30}Gi"
    return f"{n // (1 << 20)}Mi"
