"""The node's pod network: its pod CIDR (assigned by the control plane,
remembered in <data>/pod-cidr so networking works before the API answers after
a restart) and routes to every other node's pod CIDR, kept by a watch on Nodes."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from agent.backoff import RetryBackoff
from agent.config import AgentConfig
from agent.listwatch import list_watch
from agent.ports import ApiPort, NetworkPort
from common.files import write_atomic
from proto import api_pb2, core_pb2

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
        self._nodes: dict[str, core_pb2.Node] = {}     # as last listed and watched

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
        # nothing to route from until our own pod network is up (no podCIDR yet): the
        # event that brings our CIDR syncs them, so a peer that got its CIDR first is
        # not left out
        if routes != self.routes and self.network.ready():
            await self.network.sync_routes(routes)
            self.routes = routes

    async def run(self) -> None:
        """Forever: list and watch Nodes (agent/listwatch.py), keep the pod CIDR and routes."""
        retry = RetryBackoff(self.cfg.profile.api_retry_initial, self.cfg.profile.api_retry_max)
        await list_watch(self.api, "nodes", self, retry, log, away_level=logging.DEBUG)

    async def on_list(self, items: api_pb2.ObjectList) -> None:
        self._nodes = {o.node.metadata.name: o.node for o in items.items}
        for n in self._nodes.values():
            await self.on_node(n)
        await self._sync(self._nodes)

    async def on_event(self, ev: api_pb2.WatchEvent) -> None:
        n = ev.object.node
        if ev.type == "DELETED":
            self._nodes.pop(n.metadata.name, None)
        else:
            self._nodes[n.metadata.name] = n
            await self.on_node(n)
        await self._sync(self._nodes)
