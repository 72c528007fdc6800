"""What the node's Service machinery watches: Services, EndpointSlices and Nodes,
one list+watch cache each (agent/watchcache.py), shared by the service proxy,
the DNS server, the pods' service environment and the drain before a pod stops.

    watch = ServiceWatch(api, backoff)
    tasks = watch.start()                  # the three watch loops
    await watch.synced()
    watch.services.items(), watch.slices.items(), watch.nodes.items()
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.backoff import RetryBackoff
from agent.ports import ApiPort
from agent.watchcache import WatchCache


class ServiceWatch:
    def __init__(self, api: ApiPort, backoff: Callable[[], RetryBackoff]) -> None:
        self.services = WatchCache(api, "services", backoff())
        self.slices = WatchCache(api, "endpointslices", backoff())
        self.nodes = WatchCache(api, "nodes", backoff())

    def start(self) -> list[asyncio.Future[None]]:
        return [asyncio.ensure_future(c.run()) for c in (self.services, self.slices, self.nodes)]

    async def synced(self) -> None:
        await asyncio.gather(self.services.synced.wait(), self.slices.synced.wait(),
                             self.nodes.synced.wait())

    def on_change(self, fn: Callable[[], None]) -> None:
        for c in (self.services, self.slices, self.nodes):
            c.listeners.append(fn)
