"""What the node's Service machinery watches: Services, EndpointSlices and Nodes,
one list+watch cache each (agent/watchcache.py), shared by the service proxy,
the DNS server, the pods' service environment and the drain before a pod stops.

    watch = ServiceWatch(api, backoff, cache_path="DATA/services.pb")
    tasks = watch.start()                  # the three watch loops (and the cache writer)
    await watch.synced()
    watch.services.items(), watch.slices.items(), watch.nodes.items()
    watch.known()                          # synced, or restored from the cache file

The Services and EndpointSlices last seen are kept in `cache_path` (the first
list at once, then a second after they change; whole, atomically): an agent that restarts while the
control plane is away still gives its pods their service variables and still
answers DNS, from what it knew (the proxy's rules stay in the kernel anyway).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent.backoff import RetryBackoff
from agent.ports import ApiPort
from agent.watchcache import WatchCache
from common.files import write_atomic
from proto import api_pb2

log = logging.getLogger("corral.agent.servicewatch")

WRITE_DELAY = 1.0


class ServiceWatch:
    def __init__(self, api: ApiPort, backoff: Callable[[], RetryBackoff],
                 cache_path: str = "") -> None:
        self.services = WatchCache(api, "services", backoff())
        self.slices = WatchCache(api, "endpointslices", backoff())
        self.nodes = WatchCache(api, "nodes", backoff())
        self.cache_path = cache_path
        self.restored = self._restore()
        self._dirty = asyncio.Event()

    def start(self) -> list[asyncio.Future[None]]:
        if self.cache_path:      # before the watches run: their first list counts too
            self.services.listeners.append(self._dirty.set)
            self.slices.listeners.append(self._dirty.set)
        tasks: list[asyncio.Future[None]] = [
            asyncio.ensure_future(c.run()) for c in (self.services, self.slices, self.nodes)]
        if self.cache_path:
            tasks.append(asyncio.ensure_future(self._keep_cache()))
        return tasks

    def known(self) -> bool:
        """The Services are known: read from the API, or restored from the cache file."""
        return self.services.synced.is_set() or self.restored

    def _restore(self) -> bool:
        if not self.cache_path:
            return False
        try:
            with open(self.cache_path, "rb") as f:
                lst = api_pb2.ObjectList.FromString(f.read())
        except (OSError, ValueError) as e:
            if not isinstance(e, FileNotFoundError):
                log.warning("cannot read the services cache %s: %s", self.cache_path, e)
            return False
        self.services.seed([o for o in lst.items if o.WhichOneof("kind") == "service"])
        self.slices.seed([o for o in lst.items if o.WhichOneof("kind") == "endpoint_slice"])
        return True

    async def _keep_cache(self) -> None:
        first = True     # the first list is written at once: an agent killed in its first
        while True:      # second, with the control plane away, still knows the Services
            await self._dirty.wait()
            if not first:
                await asyncio.sleep(WRITE_DELAY)     # one write for a burst of changes
            first = False
            self._dirty.clear()
            lst = api_pb2.ObjectList(items=[*self.services.items().values(),
                                            *self.slices.items().values()])
            try:
                await asyncio.to_thread(write_atomic, self.cache_path, lst.SerializeToString(),
                                        durable=False)
            except OSError as e:
                log.warning("cannot write the services cache %s: %s", self.cache_path, e)

    async def synced(self) -> None:
        await asyncio.gather(self.services.synced.wait(), self.slices.synced.wait(),
                             self.nodes.synced.wait())

    def on_change(self, fn: Callable[[], None]) -> None:
        for c in (self.services, self.slices, self.nodes):
            c.listeners.append(fn)
