"""Helpers of the pod worker tests."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.podsync.worker import PodWorker
from proto import core_pb2


def status_of(w: PodWorker) -> core_pb2.PodStatus:
    """The last status the worker queued (there must be one)."""
    assert w.last_status is not None
    return w.last_status


def run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


def c(name: str, *command: str, image: str = "busybox", **kw: Any) -> core_pb2.Container:
    return core_pb2.Container(name=name, image=image, command=list(command), **kw)
