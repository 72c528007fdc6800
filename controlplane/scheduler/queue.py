"""The scheduling queue: an active queue, a back-off queue and the unschedulable pods.

* ``active``: pods to try now, FIFO (higher ``spec.priority`` first).
* ``backoff``: pods that failed, waiting ``initial * 2**attempts`` (capped).
* ``unschedulable``: pods no node fits; they move back (through back-off) when
  the cluster changes in a way that may help (a node added/changed, a pod
  deleted) or at least every ``flush_after`` seconds.

Keys are ``namespace/name``; a key is in at most one of the three.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time


class SchedulingQueue:
    def __init__(self, *, backoff_initial: float = 1.0, backoff_max: float = 10.0,
                 flush_after: float = 60.0) -> None:
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.flush_after = flush_after
        self._active: list[tuple[int, int, str]] = []    # (-priority, seq, key)
        self._in_active: set[str] = set()
        self._backoff: list[tuple[float, int, str]] = []  # (ready_at, seq, key)
        self._in_backoff: dict[str, float] = {}
        self._unschedulable: dict[str, float] = {}       # key -> when parked
        self._attempts: dict[str, int] = {}
        self._priority: dict[str, int] = {}
        self._seq = itertools.count()
        self._event = asyncio.Event()
        self._closed = False
        self.move_requests = 0
        self._last_flush = 0.0

    def add(self, key: str, priority: int = 0) -> None:
        """A new or changed pending pod: try it now (unless backing off)."""
        self._priority[key] = priority
        if key in self._in_active or key in self._in_backoff:
            return
        self._unschedulable.pop(key, None)
        self._push_active(key)

    def delete(self, key: str) -> None:
        self._in_active.discard(key)
        self._in_backoff.pop(key, None)
        self._unschedulable.pop(key, None)
        self._attempts.pop(key, None)
        self._priority.pop(key, None)

    def done(self, key: str) -> None:
        """Scheduled: forget its attempts."""
        self._attempts.pop(key, None)
        self._priority.pop(key, None)

    def add_unschedulable(self, key: str) -> None:
        self._attempts[key] = self._attempts.get(key, 0) + 1
        if key in self._in_active or key in self._in_backoff:
            return
        self._unschedulable[key] = time.monotonic()

    def add_backoff(self, key: str) -> None:
        """A transient failure (bind error, conflict): retry after back-off."""
        self._attempts[key] = self._attempts.get(key, 0) + 1
        self._unschedulable.pop(key, None)
        self._push_backoff(key)

    def move_all_to_active_or_backoff(self) -> None:
        """Something changed that may make unschedulable pods fit."""
        self.move_requests += 1
        for key in list(self._unschedulable):
            del self._unschedulable[key]
            self._push_backoff(key)

    def backoff_duration(self, key: str) -> float:
        n = self._attempts.get(key, 0)
        if n <= 0:
            return 0.0
        return float(min(self.backoff_initial * (2 ** min(n - 1, 30)), self.backoff_max))

    def __len__(self) -> int:
        return len(self._in_active) + len(self._in_backoff) + len(self._unschedulable)

    @property
    def unschedulable(self) -> list[str]:
        return list(self._unschedulable)

    def close(self) -> None:
        self._closed = True
        self._event.set()

    async def pop(self) -> str | None:
        """The next pod to schedule; None when closed."""
        while not self._closed:
            self._flush()
            while self._active:
                _, _, key = heapq.heappop(self._active)
                if key in self._in_active:
                    self._in_active.discard(key)
                    return key
            self._event.clear()
            timeout = self._next_due()
            try:
                if timeout is None:
                    await self._event.wait()
                else:
                    await asyncio.wait_for(self._event.wait(), max(timeout, 0.001))
            except TimeoutError:
                pass
        return None

    # ---- internals -------------------------------------------------------
    def _push_active(self, key: str) -> None:
        self._in_active.add(key)
        heapq.heappush(self._active, (-self._priority.get(key, 0), next(self._seq), key))
        self._event.set()

    def _push_backoff(self, key: str) -> None:
        if key in self._in_active:
            return
        ready = time.monotonic() + self.backoff_duration(key)
        self._in_backoff[key] = ready
        heapq.heappush(self._backoff, (ready, next(self._seq), key))
        self._event.set()

    def _flush(self) -> None:
        now = time.monotonic()
        while self._backoff and self._backoff[0][0] <= now:
            ready, _, key = heapq.heappop(self._backoff)
            if self._in_backoff.get(key) == ready:
                del self._in_backoff[key]
                self._push_active(key)
        if now - self._last_flush < 0.5:
            return
        self._last_flush = now
        for key, since in list(self._unschedulable.items()):
            if now - since >= self.flush_after:
                del self._unschedulable[key]
                self._push_backoff(key)

    def _next_due(self) -> float | None:
        now = time.monotonic()
        due: list[float] = []
        if self._backoff:
            due.append(self._backoff[0][0] - now)
        if self._unschedulable:
            due.append(max(min(self._unschedulable.values()) + self.flush_after - now, 0.5))
        return min(due) if due else None
