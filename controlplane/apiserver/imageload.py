"""LoadImage: one archive from the client, copied to every selected agent as it arrives.

Each node gets a bounded queue of archive pieces that its LoadImage call reads; the
reader of the client's stream waits for the slowest node that is still reading, and a
node whose call ends (it failed) is no longer fed. Results and failures per node, as
controlplane/apiserver/images.py says.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from controlplane import errors
from controlplane.apiserver.agents import agent_call
from controlplane.apiserver.images import (
    VERB,
    Service,
    check_all_failed,
    failure_text,
    selected,
)
from controlplane.rpc import CallContext
from proto import agent_pb2, api_pb2

LOAD_QUEUE = 8            # archive pieces buffered per node before the reader waits


@dataclass
class _Feed:
    node: str
    queue: asyncio.Queue[bytes | None] = field(
        default_factory=lambda: asyncio.Queue(LOAD_QUEUE))
    done: bool = False

    async def put(self, item: bytes | None) -> None:
        if not self.done:
            await self.queue.put(item)

    def stop(self) -> None:
        """This node's call ended: drop what waits for it, so the reader never blocks on it."""
        self.done = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)     # and end chunks() if the call still reads it

    async def chunks(self) -> AsyncIterator[agent_pb2.LoadImageChunk]:
        while (data := await self.queue.get()) is not None:
            yield agent_pb2.LoadImageChunk(data=data)


async def load_image(svc: Service, request_iterator: AsyncIterator[api_pb2.ImageLoadChunk],
                     context: CallContext) -> api_pb2.ImageLoadResponse:
    first = await anext(aiter(request_iterator), None)
    if first is None:
        raise errors.BadRequest("load: no archive was sent")
    svc.access.check(VERB, "nodes", "", first.node)
    nodes = await selected(svc, first.node)
    feeds = [_Feed(n) for n in nodes]
    results: dict[str, api_pb2.NodeLoadResult] = {}
    failures: dict[str, BaseException] = {}

    async def one(feed: _Feed) -> None:
        call = None
        try:
            stub, addr = await svc.agents.stub_for_node(feed.node)
            call = stub.LoadImage(feed.chunks())
            with agent_call(feed.node, addr):
                resp = await call
            results[feed.node] = api_pb2.NodeLoadResult(node=feed.node, names=resp.names)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            failures[feed.node] = e
        finally:
            feed.stop()
            if call is not None:
                call.cancel()

    async def read() -> None:
        pieces = [first.data] if first.data else []
        for data in pieces:
            for f in feeds:
                await f.put(data)
        async for msg in request_iterator:
            if msg.node and msg.node != first.node:
                raise errors.BadRequest("load: only the first message may name the node")
            if msg.data:
                for f in feeds:
                    await f.put(msg.data)
        for f in feeds:
            await f.put(None)

    tasks = [asyncio.create_task(one(f)) for f in feeds]
    try:
        await read()
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
    check_all_failed(nodes, failures)
    return api_pb2.ImageLoadResponse(nodes=[
        results.get(n) or api_pb2.NodeLoadResult(node=n, error=failure_text(failures[n]))
        for n in nodes])


