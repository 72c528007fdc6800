"""Small asyncio helpers for tests that have no pytest-asyncio.

    from tests.support.aio import run, eventually

    def test_x():
        run(main(), timeout=30)          # asyncio.run with a deadline

    await eventually(lambda: cond(), timeout=10)        # poll a condition with a deadline
    await eventually(async_pred, timeout=10)            # async predicates work too
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run a coroutine in a fresh event loop, failing after `timeout` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def eventually(pred: Callable[[], Any | Awaitable[Any]], timeout: float = 10.0,
                     interval: float = 0.05, what: str = "condition") -> Any:
    """Poll `pred` until it returns something truthy (returned); AssertionError at the deadline.

    Exceptions raised by `pred` count as "not yet" and are reported at the deadline.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = pred()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
        except Exception as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last error: {last!r})")
        await asyncio.sleep(interval)
