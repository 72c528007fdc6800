"""The HollowAgent: starts and stops the node and pod halves, and simulates a node
dying and coming back."""

from __future__ import annotations

import asyncio

import grpc

from agent.hollow.nodes import NodeReporter
from agent.hollow.pods import PodReporter
from agent.hollow.state import HollowNode, log
from proto import api_pb2_grpc


class HollowAgent(NodeReporter, PodReporter):
    """Many fake nodes in one process (see the package docstring)."""

    # ---- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        self._channel = (grpc.aio.insecure_channel(self.server) if self.credentials is None
                         else grpc.aio.secure_channel(self.server, self.credentials))
        self._stub = api_pb2_grpc.ApiStub(self._channel)  # an ApiAsyncStub on an aio channel
        await asyncio.gather(*(self._register(n) for n in self.nodes.values()))
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="hollow-heartbeat"))
        self._tasks.append(asyncio.create_task(self._watch_loop(), name="hollow-watch"))
        for i in range(self.concurrency):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"hollow-worker-{i}"))
        log.info("hollow agent: %d nodes registered with %s", len(self.nodes), self.server)

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)  # never swallows our own cancellation
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def __aenter__(self) -> HollowAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def stop_node(self, name: str) -> None:
        """Simulate a dead node: no more heartbeats, its pods are ignored."""
        self.nodes[name].stopped = True

    def resume_node(self, name: str) -> None:
        """The node is back: heartbeat and report status now, sync its pods."""
        node = self.nodes[name]
        node.stopped = False
        self._tasks.append(asyncio.create_task(self._revive(node)))

    async def _revive(self, node: HollowNode) -> None:
        await self._renew(node)
        await self._post_status(node)
        for key, pod in list(self.pods.items()):
            if pod.spec.node_name == node.name:
                self._enqueue(key)

