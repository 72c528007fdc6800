"""A work queue of keys, like client-go's rate-limited workqueue.

* A key is queued at most once (dedup): adding a queued key is a no-op.
* A key being processed is never handed to a second worker: if it is added
  meanwhile it is marked dirty and re-queued when the first worker calls
  ``done``.
* ``add_rate_limited`` re-adds with a per-key exponential back-off
  (``initial * 2**failures`` up to ``maximum``); ``forget`` resets it.
* ``add_after`` re-adds after a delay (a ``Result(requeue_after=...)``).

Single event loop, no threads: every method except ``get`` is synchronous.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import time


class ShutDown(Exception):
    """The queue was shut down; workers should return."""


class RateLimiter:
    """Per-item exponential back-off (client-go's ItemExponentialFailureRateLimiter)."""

    def __init__(self, initial: float = 0.005, maximum: float = 300.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._failures: dict[str, int] = {}

    def when(self, key: str) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        return float(min(self.initial * (2 ** min(n, 62)), self.maximum))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)


class WorkQueue:
    def __init__(self, name: str = "", rate_limiter: RateLimiter | None = None) -> None:
        self.name = name
        self.rate_limiter = rate_limiter or RateLimiter()
        self._queue: collections.deque[str] = collections.deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._nonempty = asyncio.Event()
        self._waiting: list[tuple[float, int, str]] = []  # (due, seq, key)
        self._waiting_due: dict[str, float] = {}
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._shutdown = False

    # ---- adding ----------------------------------------------------------
    def add(self, key: str) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._notify()

    def add_after(self, key: str, delay: float) -> None:
        if self._shutdown:
            return
        if delay <= 0:
            self.add(key)
            return
        due = time.monotonic() + delay
        prev = self._waiting_due.get(key)
        if prev is not None and prev <= due:
            return  # an earlier wake-up is already planned
        self._waiting_due[key] = due
        heapq.heappush(self._waiting, (due, next(self._seq), key))
        self._arm_timer()

    def add_rate_limited(self, key: str) -> None:
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: str) -> None:
        self.rate_limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return self.rate_limiter.failures(key)

    # ---- taking ----------------------------------------------------------
    async def get(self) -> str:
        while not self._queue:
            if self._shutdown:
                raise ShutDown(self.name)
            self._nonempty.clear()
            await self._nonempty.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty and not self._shutdown:
            self._queue.append(key)
            self._notify()

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def pending_delayed(self) -> int:
        return len(self._waiting_due)

    def shutdown(self) -> None:
        self._shutdown = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._notify()

    @property
    def is_shutdown(self) -> bool:
        return self._shutdown

    # ---- internals -------------------------------------------------------
    def _notify(self) -> None:
        self._nonempty.set()

    def _arm_timer(self) -> None:
        if not self._waiting:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        due = self._waiting[0][0]
        if self._timer is not None:
            if self._timer.when() <= loop.time() + (due - time.monotonic()) + 1e-4:
                return
            self._timer.cancel()
        self._timer = loop.call_later(max(0.0, due - time.monotonic()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = time.monotonic()
        while self._waiting and self._waiting[0][0] <= now + 1e-4:
            due, _, key = heapq.heappop(self._waiting)
            if self._waiting_due.get(key) == due:
                del self._waiting_due[key]
                self.add(key)
        self._arm_timer()
