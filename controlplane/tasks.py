"""Stopping asyncio tasks without hanging or swallowing the caller's own cancellation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


def cancelled_from_outside() -> bool:
    """True when the current task itself is being cancelled; False when a
    CancelledError came out of a library call that we did not cancel (gRPC raises
    it from a call whose channel was closed under it)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object]], timeout: float = 5.0,
                          what: str = "task") -> None:
    """Cancel tasks and wait for them, at most `timeout` seconds.

    Unlike ``suppress(CancelledError): await t`` this never swallows the caller's
    own cancellation, and a task stuck in someone else's cleanup cannot hang the
    caller (it is logged and left behind).
    """
    ts = list(tasks)
    for t in ts:
        t.cancel()
    live = [t for t in ts if not t.done()]
    if live:
        _, pending = await asyncio.wait(live, timeout=timeout)
        for t in pending:
            log.warning("%s %s did not stop within %.0fs", what, t.get_name(), timeout)
    for t in ts:
        if t.done() and not t.cancelled() and t.exception() is not None:
            log.debug("%s %s ended with %r", what, t.get_name(), t.exception())
