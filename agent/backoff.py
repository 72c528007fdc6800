"""Back-off: per-key restart back-off (CrashLoopBackOff, ImagePullBackOff) and a
jittered retry back-off for talking to the control plane."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass
class _Entry:
    delay: float
    until: float


class KeyedBackoff:
    """Kubernetes' restart back-off for one key (a container, an image pull).

    `fail(key, at)` records a failure at time `at` (e.g. a container's finish
    time): the key may not be retried before `at + delay`; the delay starts
    at `initial` and doubles with each failure up to `maximum`. `reset(key)`
    forgets it (a container that ran longer than the reset period, a pull
    that worked).
    """

    def __init__(self, initial: float, maximum: float, clock: Clock = time.time) -> None:
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def fail(self, key: str, at: float | None = None) -> float:
        at = self.clock() if at is None else at
        e = self._entries.get(key)
        delay = self.initial if e is None else min(e.delay * 2, self.maximum)
        self._entries[key] = _Entry(delay, at + delay)
        return delay

    def remaining(self, key: str) -> float:
        """Seconds left before `key` may be retried (0: go)."""
        e = self._entries.get(key)
        return 0.0 if e is None else max(0.0, e.until - self.clock())

    def in_backoff(self, key: str) -> bool:
        return self.remaining(key) > 0

    def delay(self, key: str) -> float:
        e = self._entries.get(key)
        return 0.0 if e is None else e.delay

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for k in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[k]


class RetryBackoff:
    """Capped, jittered exponential back-off for reconnecting."""

    def __init__(self, initial: float, maximum: float, jitter: float = 0.5,
                 rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.rng = rng or random.Random()
        self._next = initial

    def next(self) -> float:
        base = self._next
        self._next = min(self._next * 2, self.maximum)
        return float(min(self.maximum, base * (1 + self.jitter * self.rng.random())))

    def reset(self) -> None:
        self._next = self.initial
