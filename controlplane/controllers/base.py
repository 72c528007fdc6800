"""The controller-runtime shape: informers feed keys into a WorkQueue, workers
call ``reconcile(key) -> Result``.

A reconcile that raises is retried with the queue's per-key exponential
back-off (a Conflict is routine: re-read and try again); ``Result.requeue_after``
looks again after a delay; ``Result.requeue`` retries with back-off. Reconcile
functions must read from the informers' caches and never mutate the objects
there (copy first), and write status last.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from controlplane import errors
from controlplane.tasks import cancel_and_wait
from controlplane.workqueue import RateLimiter, ShutDown, WorkQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    requeue: bool = False
    requeue_after: float | None = None


DONE = Result()


class Controller:
    name = "controller"
    workers = 2

    def __init__(self, *, backoff_initial: float = 0.005, backoff_max: float = 300.0) -> None:
        self.queue = WorkQueue(self.name, RateLimiter(backoff_initial, backoff_max))
        self.reconciles = 0
        self.errors = 0

    async def reconcile(self, key: str) -> Result:
        raise NotImplementedError

    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    async def wait_synced(self) -> None:
        """Wait for the informers this controller reads (override)."""

    async def run(self) -> None:
        await self.wait_synced()
        tasks = [asyncio.create_task(self._worker(), name=f"{self.name}-{i}")
                 for i in range(self.workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            await cancel_and_wait(tasks, 5.0, f"{self.name} worker")

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                self.reconciles += 1
                res = await self.reconcile(key)
            except asyncio.CancelledError:
                self.queue.done(key)
                raise
            except errors.Conflict as e:
                log.debug("%s %s: conflict (%s), retrying", self.name, key, e)
                self.queue.add_rate_limited(key)
            except Exception:
                self.errors += 1
                log.exception("%s: reconciling %s failed", self.name, key)
                self.queue.add_rate_limited(key)
            else:
                if res.requeue:
                    self.queue.add_rate_limited(key)
                else:
                    self.queue.forget(key)
                    if res.requeue_after is not None:
                        self.queue.add_after(key, res.requeue_after)
            finally:
                self.queue.done(key)
