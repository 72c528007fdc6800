"""Routes to the other nodes' pod CIDRs when this node gets its own CIDR last."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from agent.config import AgentConfig
from agent.node import NodeAgent, NodeFacts
from proto import core_pb2, kinds

from .conftest import Env
from .fakes import FakeNetwork


class LateNetwork(FakeNetwork):
    """Like the real adapter: no pod network (and no routes) before ensure_node."""

    def __init__(self) -> None:
        super().__init__()
        self.is_ready = False

    async def ensure_node(self, pod_cidr: str) -> None:
        await super().ensure_node(pod_cidr)
        self.is_ready = True

    async def sync_routes(self, routes: Iterable[tuple[str, str]]) -> None:
        if self.is_ready:
            await super().sync_routes(routes)


def node(name: str, cidr: str, ip: str) -> core_pb2.Node:
    n = core_pb2.Node()
    n.metadata.name = name
    n.spec.pod_cidr = cidr
    n.status.addresses.add(type="InternalIP", address=ip)
    return n


def test_peer_cidr_known_before_ours_is_routed_once_ours_comes(env: Env) -> None:
    net = LateNetwork()
    agent = NodeAgent(AgentConfig(server="x:1", node_name="n1", data_dir=str(env.ctx.store.dir),
                                  listen="1.2.3.4:10250", node_ip="1.2.3.4"),
                      env.api, net, NodeFacts(1000, 2**30, "v2"), clock=env.clock)
    env.api.put(kinds.wrap(node("n1", "", "1.2.3.4")))
    env.api.put(kinds.wrap(node("n2", "10.244.2.0/24", "5.6.7.8")))

    async def go() -> None:
        loop = asyncio.get_running_loop()
        t = asyncio.ensure_future(agent.routes.run())
        try:
            deadline = loop.time() + 5
            while not env.api.watchers:   # listed (n2 with a CIDR, we without), now watching
                assert loop.time() < deadline
                await asyncio.sleep(0.01)
            # the control plane assigns our CIDR after n2's
            env.api.put(kinds.wrap(node("n1", "10.244.1.0/24", "1.2.3.4")))
            while net.routes != [("10.244.2.0/24", "5.6.7.8")]:
                assert loop.time() < deadline, f"routes {net.routes}, cidr {net.node_cidr!r}"
                await asyncio.sleep(0.01)
            assert net.node_cidr == "10.244.1.0/24"
        finally:
            t.cancel()
            await asyncio.gather(t, return_exceptions=True)
    asyncio.get_event_loop().run_until_complete(go())
