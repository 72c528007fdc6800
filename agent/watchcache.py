"""A list+watch cache of one resource over the agent's ApiPort (a small informer).

    cache = WatchCache(api, "services", backoff)
    task = asyncio.ensure_future(cache.run())
    await cache.synced.wait()
    cache.items()             # {"ns/name": Object}: shared, do not mutate
    cache.resource_version    # the etcd revision the cache reflects
    await cache.changed(seen) # wait for a version newer than `seen`; returns it
    cache.listeners.append(event.set)   # called (on the loop) after every change

A watch that ends resumes from the last revision; a compacted one (ApiGone)
relists and keeps what did not change; an unreachable control plane is
retried with back-off while the cache keeps serving what it has (a node keeps
routing Service traffic while the API is away).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent.backoff import RetryBackoff
from agent.ports import ApiGone, ApiPort, ApiUnavailable
from proto import api_pb2, kinds

log = logging.getLogger("corral.agent.watchcache")


class WatchCache:
    def __init__(self, api: ApiPort, resource: str, backoff: RetryBackoff,
                 field_selector: str = "") -> None:
        self.api = api
        self.resource = resource
        self.field_selector = field_selector
        self.backoff = backoff
        self._items: dict[str, api_pb2.Object] = {}
        self.resource_version = ""
        self.version = 0                      # bumped on every change the cache sees
        self.synced = asyncio.Event()
        self.listeners: list[Callable[[], None]] = []
        self._cond = asyncio.Condition()

    def items(self) -> dict[str, api_pb2.Object]:
        return self._items

    def seed(self, objs: list[api_pb2.Object]) -> None:
        """Start from these (a cache from disk) until the first list replaces them."""
        self._items = {kinds.key_of(o): o for o in objs}

    async def changed(self, seen: int) -> int:
        """Wait until `version` is newer than `seen`; the new version."""
        async with self._cond:
            await self._cond.wait_for(lambda: self.version > seen)
            return self.version

    async def _bump(self) -> None:
        self.version += 1
        for fn in self.listeners:
            fn()
        async with self._cond:
            self._cond.notify_all()

    async def run(self) -> None:
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
            except ApiGone:
                need_list = True
            except asyncio.CancelledError:
                raise
            except ApiUnavailable as e:
                delay = self.backoff.next()
                log.debug("%s watch: %s; retrying in %.1fs", self.resource, e, delay)
                await asyncio.sleep(delay)
            except Exception:
                delay = self.backoff.next()
                log.exception("%s watch failed; retrying in %.1fs", self.resource, delay)
                await asyncio.sleep(delay)
                need_list = need_list or not self.resource_version

    async def _list(self) -> None:
        lst = await self.api.list(self.resource, field_selector=self.field_selector)
        fresh = {kinds.key_of(o): o for o in lst.items}
        changed = fresh.keys() != self._items.keys() or any(
            kinds.unwrap(o).metadata.resource_version  # type: ignore[attr-defined]
            != kinds.unwrap(self._items[k]).metadata.resource_version  # type: ignore[attr-defined]
            for k, o in fresh.items())
        self._items = fresh
        self.resource_version = lst.resource_version
        self.backoff.reset()
        self.synced.set()
        if changed or self.version == 0:
            await self._bump()

    async def _watch(self) -> None:
        async for ev in self.api.watch(self.resource, field_selector=self.field_selector,
                                       resource_version=self.resource_version):
            self.backoff.reset()
            if ev.resource_version:
                self.resource_version = ev.resource_version
            if ev.type == "BOOKMARK" or not ev.HasField("object"):
                continue
            key = kinds.key_of(ev.object)
            if ev.type == "DELETED":
                self._items.pop(key, None)
            else:
                self._items[key] = ev.object
            await self._bump()
