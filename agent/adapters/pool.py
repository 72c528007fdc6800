"""Blocking work off the event loop: the agent's own thread pool."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from typing import Any, TypeVar

# ---- blocking work off the event loop -----------------------------------------------------
T = TypeVar("T")

POOL = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="agent-io")


async def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call in the agent's own pool (stops wait out grace periods,
    so the default small pool would starve)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(POOL, functools.partial(fn, *args))
