"""The node's pod network: its pod CIDR (assigned by the control plane,
remembered in <data>/pod-cidr so networking works before the API answers after
a restart) and routes to every other node's pod CIDR, kept by a watch on Nodes."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

from agent.backoff import RetryBackoff
from agent.config import AgentConfig
from agent.ports import ApiGone, ApiPort, ApiUnavailable, NetworkPort
from common.files import write_atomic
from proto import core_pb2

log = logging.getLogger("corral.agent.node")


def pod_cidr_of(node: core_pb2.Node) -> str:
    return node.spec.pod_cidr or (node.spec.pod_cidrs[0] if node.spec.pod_cidrs else "")


class NodeRoutes:
    def __init__(self, cfg: AgentConfig, api: ApiPort, network: NetworkPort,
                 on_own_node: Callable[[core_pb2.Node], None] = lambda node: None) -> None:
        self.cfg = cfg
        self.api = api
        self.network = network
        self.on_own_node = on_own_node      # every version of this node's Node seen
        self.pod_cidr = ""
        self.routes: list[tuple[str, str]] = []

    def _cidr_file(self) -> str:
        return os.path.join(self.cfg.data_dir, "pod-cidr")

    async def restore(self) -> None:
        """At start: set the node network up from the pod CIDR remembered from the
        last run, so pods can be looked after before the control plane answers."""
        try:
            with open(self._cidr_file()) as f:
                cidr = f.read().strip()
        except OSError:
            return
        if cidr:
            try:
                await self.network.ensure_node(cidr)
                self.pod_cidr = cidr
                log.info("node network restored with the remembered pod CIDR %s", cidr)
            except Exception:
                log.exception("cannot restore the node network for %s", cidr)

    async def on_node(self, node: core_pb2.Node) -> None:
        if node.metadata.name != self.cfg.node_name:
            return
        self.on_own_node(node)
        cidr = pod_cidr_of(node)
        if cidr and cidr != self.pod_cidr:
            log.info("pod CIDR %s assigned to this node", cidr)
            await self.network.ensure_node(cidr)
            self.pod_cidr = cidr
            try:
                # a cache of the Node's spec: a machine crash costs only the wait for the API
                write_atomic(self._cidr_file(), cidr.encode(), durable=False)
            except OSError:
                log.exception("cannot remember the pod CIDR")

    async def _sync(self, nodes: dict[str, core_pb2.Node]) -> None:
        routes = []
        for name, n in sorted(nodes.items()):
            if name == self.cfg.node_name:
                continue
            cidr = pod_cidr_of(n)
            ip = next((a.address for a in n.status.addresses if a.type == "InternalIP"), "")
            if cidr and ip:
                routes.append((cidr, ip))
        if routes != self.routes:
            await self.network.sync_routes(routes)
            self.routes = routes

    async def run(self) -> None:
        """Forever: list and watch Nodes, keep the pod CIDR and the routes."""
        retry = RetryBackoff(self.cfg.profile.api_retry_initial, self.cfg.profile.api_retry_max)
        while True:
            try:
                lst = await self.api.list("nodes")
                nodes = {o.node.metadata.name: o.node for o in lst.items}
                for n in nodes.values():
                    await self.on_node(n)
                await self._sync(nodes)
                rv = lst.resource_version
                retry.reset()
                while True:
                    async for ev in self.api.watch("nodes", resource_version=rv):
                        retry.reset()
                        rv = ev.resource_version or rv
                        if ev.type == "BOOKMARK":
                            continue
                        n = ev.object.node
                        if ev.type == "DELETED":
                            nodes.pop(n.metadata.name, None)
                        else:
                            nodes[n.metadata.name] = n
                            await self.on_node(n)
                        await self._sync(nodes)
            except ApiGone:
                continue
            except asyncio.CancelledError:
                raise
            except ApiUnavailable as e:
                delay = retry.next()
                log.debug("node watch: %s; retrying in %.1fs", e, delay)
                await asyncio.sleep(delay)
            except Exception:
                delay = retry.next()
                log.exception("node watch/route sync failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
