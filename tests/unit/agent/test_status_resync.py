"""The node's view of a pod's status wins over a stale write by someone else:
when the API's copy stops matching what the agent wrote (the node lifecycle
controller marked the pod not ready while the agent was away), the agent
writes its view again; repeats of what the API already holds are not sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from agent.backoff import RetryBackoff
from agent.podsync.statussync import StatusSender
from proto import core_pb2, kinds

from .conftest import Env
from .fakes import make_pod


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def _ready(value: str) -> core_pb2.PodStatus:
    s = core_pb2.PodStatus(phase="Running")
    s.conditions.add(type="Ready", status=value)
    return s


def test_status_changed_by_another_writer_is_written_again(
        env: Env, loop: asyncio.AbstractEventLoop) -> None:
    api = env.api
    api.put(kinds.wrap(make_pod()))
    sender = StatusSender(api, RetryBackoff(0.01, 0.02))

    def stored() -> core_pb2.Pod:
        return api.objects[("pods", "default", "web")].pod

    async def body() -> None:
        task = asyncio.ensure_future(sender.run())
        try:
            sender.enqueue(stored(), _ready("True"))
            await until(lambda: sender.pending() == 0 and len(api.statuses) == 1)
            # the watch echoes our own write: the same status again is not re-sent
            echo = core_pb2.Pod()
            echo.CopyFrom(stored())
            sender.observe(echo)
            sender.enqueue(echo, _ready("True"))
            assert sender.pending() == 0
            # the node controller writes Ready=False at a newer version
            theirs = stored()
            theirs.status.CopyFrom(_ready("False"))
            api.put(kinds.wrap(theirs))
            sender.observe(stored())
            # the node's next pass has the same view as before: written again
            sender.enqueue(stored(), _ready("True"))
            await until(lambda: sender.pending() == 0 and len(api.statuses) == 2)
            assert stored().status.conditions[0].status == "True"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    loop.run_until_complete(body())
