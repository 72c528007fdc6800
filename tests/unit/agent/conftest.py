from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.backoff import RetryBackoff
from agent.config import PROFILES
from agent.podsync.state import PodStateStore
from agent.podsync.statussync import StatusSender
from agent.podsync.worker import SyncContext

from .fakes import FakeApi, FakeClock, FakeImages, FakeNetwork, FakeRuntime


@dataclass
class Env:
    clock: FakeClock
    runtime: FakeRuntime
    images: FakeImages
    network: FakeNetwork
    api: FakeApi
    ctx: SyncContext


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


@pytest.fixture
def env(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> Env:
    asyncio.set_event_loop(loop)
    clock = FakeClock()
    rt = FakeRuntime(clock)
    images = FakeImages()
    images.add("busybox")
    net = FakeNetwork()
    api = FakeApi()
    ctx = SyncContext(runtime=rt, images=images, network=net, api=api,
                      statuses=StatusSender(api, RetryBackoff(0.01, 0.05)),
                      store=PodStateStore(str(tmp_path)), profile=PROFILES["default"],
                      node_name="n1", host_ip="192.168.1.10", clock=clock)
    return Env(clock, rt, images, net, api, ctx)
