from __future__ import annotations

import asyncio

from controlplane.workqueue import RateLimiter, ShutDown, WorkQueue
from tests.support.aio import eventually


def test_dedup_and_processing():
    async def main():
        q = WorkQueue()
        q.add("a")
        q.add("a")
        q.add("b")
        assert len(q) == 2
        k = await q.get()
        assert k == "a"
        q.add("a")           # while processing: marked dirty, not queued twice
        assert len(q) == 1
        assert await q.get() == "b"
        q.done("b")
        q.done("a")          # re-queued now
        assert len(q) == 1
        assert await q.get() == "a"
        q.done("a")
        assert len(q) == 0

    asyncio.run(main())


def test_rate_limiter_backoff():
    r = RateLimiter(0.01, 0.05)
    assert [r.when("k") for _ in range(5)] == [0.01, 0.02, 0.04, 0.05, 0.05]
    assert r.failures("k") == 5
    r.forget("k")
    assert r.when("k") == 0.01


def test_add_after_and_rate_limited():
    async def main():
        loop = asyncio.get_running_loop()
        q = WorkQueue(rate_limiter=RateLimiter(0.05, 1.0))
        t0 = loop.time()
        q.add_rate_limited("x")
        q.add_after("y", 0.01)
        assert len(q) == 0
        assert await asyncio.wait_for(q.get(), 2) == "y"
        assert await asyncio.wait_for(q.get(), 2) == "x"
        assert loop.time() - t0 >= 0.045
        assert q.num_requeues("x") == 1
        q.forget("x")
        assert q.num_requeues("x") == 0
        # an earlier add_after wins over a later one for the same key
        q.done("x")
        q.add_after("z", 0.02)
        q.add_after("z", 5)
        assert await asyncio.wait_for(q.get(), 2) == "z"

    asyncio.run(main())


def test_shutdown_wakes_getters():
    async def main():
        q = WorkQueue()
        getter = asyncio.create_task(q.get())
        await eventually(lambda: q._nonempty._waiters, timeout=2, interval=0.001,
                         what="getter waiting")
        q.shutdown()
        try:
            await asyncio.wait_for(getter, 2)
        except ShutDown:
            return
        raise AssertionError("get() did not raise ShutDown")

    asyncio.run(main())
