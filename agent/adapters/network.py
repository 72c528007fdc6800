"""The network port onto agent/network."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent.adapters.pool import run_blocking
from agent.ports import (
    PodNet,
)


class NetworkAdapter:
    """NetworkPort over agent.network.PodNetwork, made once the pod CIDR is known."""

    def __init__(self, data_dir: str, node_ip: str, netns_prefix: str,
                 bridge_name: str = "corral0") -> None:
        self.data_dir = data_dir
        self.node_ip = node_ip
        self.bridge_name = bridge_name
        self.netns_prefix = netns_prefix
        self.net: Any = None
        self._ready = False

    def ready(self) -> bool:
        return self._ready

    async def ensure_node(self, pod_cidr: str) -> None:
        from agent.network import PodNetwork
        if self.net is None or str(self.net.pod_cidr) != pod_cidr:
            old, self.net = self.net, PodNetwork(self.data_dir, pod_cidr, self.bridge_name,
                                                 self.node_ip, netns_prefix=self.netns_prefix)
            if old is not None:
                await run_blocking(old.close)   # its netlink thread and handle
        await run_blocking(self.net.ensure_node)
        self._ready = True

    def _need(self) -> Any:
        if self.net is None:
            raise RuntimeError("the node's pod network is not set up yet (no podCIDR)")
        return self.net

    async def setup_pod(self, pod_uid: str, namespace: str, name: str) -> PodNet:
        info = await run_blocking(self._need().setup_pod, pod_uid, namespace, name)
        return PodNet(info.ip, info.netns_path, info.gateway)

    async def teardown_pod(self, pod_uid: str) -> None:
        await run_blocking(self._need().teardown_pod, pod_uid)

    async def sync_routes(self, routes: Iterable[tuple[str, str]]) -> None:
        if self.net is not None:
            await run_blocking(self.net.sync_routes, list(routes))

    async def cleanup_orphans(self, keep_pod_uids: set[str]) -> None:
        if self.net is not None:
            await run_blocking(self.net.cleanup_orphans, set(keep_pod_uids))
