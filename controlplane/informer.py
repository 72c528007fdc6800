"""A shared watch cache (client-go's SharedInformer, small).

An ``Informer`` lists a resource through a ``Client`` (controlplane/client.py), then watches from
the list's resourceVersion, keeping a local store ``key -> Object``. A watch
that ends is resumed from the last resourceVersion seen; one answered with
``Gone`` (compacted) relists, and the difference to the store is delivered as
add/update/delete. Every ``resync_period`` each cached object is delivered
again as an update (old is new), so level-triggered loops look again at
everything even if an event was missed.

Immutability: objects handed out by ``get``/``list``/handlers are the cache's
own. Callers MUST NOT mutate them; copy first (``copy_of``/``get_copy``).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controlplane import errors
from controlplane.client import Client
from controlplane.objects import copy_of, meta_of
from controlplane.tasks import cancel_and_wait
from proto import api_pb2
from proto.kinds import key_of

log = logging.getLogger(__name__)
RESYNC_SLICE = 256   # objects delivered per event-loop turn on a resync

Object = api_pb2.Object


@dataclass
class Handler:
    on_add: Callable[[Object], None] | None = None
    on_update: Callable[[Object, Object], None] | None = None
    on_delete: Callable[[Object], None] | None = None


IndexFunc = Callable[[Object], Iterable[str]]


class Informer:
    def __init__(
        self,
        client: Client,
        resource: str,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        resync_period: float = 300.0,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self._store: dict[str, Object] = {}
        self._handlers: list[Handler] = []
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        self._synced = asyncio.Event()
        self.resource_version = ""
        self.relists = 0

    # ---- configuration ---------------------------------------------------
    def add_handler(self, handler: Handler) -> None:
        """Register handlers; if already synced, replay the store as adds."""
        self._handlers.append(handler)
        if self._synced.is_set() and handler.on_add:
            for obj in list(self._store.values()):
                handler.on_add(obj)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self._indexers[name] = fn
        idx: dict[str, set[str]] = {}
        for key, obj in self._store.items():
            for v in fn(obj):
                idx.setdefault(v, set()).add(key)
        self._indices[name] = idx

    # ---- reading ---------------------------------------------------------
    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def get(self, key: str) -> Object | None:
        """The cached object (shared: do not mutate)."""
        return self._store.get(key)

    def get_copy(self, key: str) -> Object | None:
        obj = self._store.get(key)
        return copy_of(obj) if obj is not None else None

    def list(self) -> builtins.list[Object]:
        """All cached objects (shared: do not mutate)."""
        return list(self._store.values())

    def keys(self) -> builtins.list[str]:
        return list(self._store)

    def by_index(self, name: str, value: str) -> builtins.list[Object]:
        keys = self._indices.get(name, {}).get(value, ())
        return [self._store[k] for k in keys if k in self._store]

    def __len__(self) -> int:
        return len(self._store)

    # ---- running ---------------------------------------------------------
    async def run(self) -> None:
        """List+watch until cancelled."""
        resync = asyncio.create_task(self._resync_loop())
        try:
            backoff = 0.1
            need_list = True
            while True:
                try:
                    if need_list:
                        await self._list()
                        need_list = False
                    await self._watch()
                    backoff = 0.1
                except errors.Gone:
                    log.info("%s watch too old at %s: relisting", self.resource,
                             self.resource_version)
                    need_list = True
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # keep the cache alive
                    log.warning("%s informer: %s; retrying in %.1fs", self.resource, e, backoff)
                    await asyncio.sleep(backoff * (1 + random.random() * 0.2))
                    backoff = min(backoff * 2, 5.0)
                    if not self.resource_version:
                        need_list = True
        finally:
            await cancel_and_wait([resync], 1.0, "informer resync")

    async def _list(self) -> None:
        lst = await self.client.list(self.resource, self.namespace,
                                       label_selector=self.label_selector,
                                       field_selector=self.field_selector)
        self.relists += 1
        fresh: dict[str, Object] = {}
        for item in lst.items:
            fresh[key_of(item)] = item
        old_store = self._store
        for key, obj in fresh.items():
            old = old_store.get(key)
            if old is None:
                self._put(key, obj)
                self._emit_add(obj)
            elif meta_of(old).resource_version != meta_of(obj).resource_version:
                self._put(key, obj)
                self._emit_update(old, obj)
        for key in [k for k in old_store if k not in fresh]:
            old = self._store.pop(key)
            self._unindex(key, old)
            self._emit_delete(old)
        self.resource_version = lst.resource_version
        self._synced.set()

    async def _watch(self) -> None:
        stream = self.client.watch(self.resource, self.namespace,
                                   label_selector=self.label_selector,
                                   field_selector=self.field_selector,
                                   resource_version=self.resource_version)
        try:
            async for ev in stream:
                self._apply(ev)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    def _apply(self, ev: api_pb2.WatchEvent) -> None:
        if ev.resource_version:
            self.resource_version = ev.resource_version
        if ev.type == "BOOKMARK" or not ev.HasField("object"):
            return
        obj = ev.object
        key = key_of(obj)
        if not self.resource_version:
            self.resource_version = meta_of(obj).resource_version
        elif not ev.resource_version:
            self.resource_version = meta_of(obj).resource_version or self.resource_version
        if ev.type == "DELETED":
            old = self._store.pop(key, None)
            if old is not None:
                self._unindex(key, old)
            self._emit_delete(obj)
            return
        old = self._store.get(key)
        self._put(key, obj)
        if old is None:
            self._emit_add(obj)
        else:
            self._emit_update(old, obj)

    def _put(self, key: str, obj: Object) -> None:
        old = self._store.get(key)
        if old is not None:
            self._unindex(key, old)
        self._store[key] = obj
        for name, fn in self._indexers.items():
            idx = self._indices[name]
            for v in fn(obj):
                idx.setdefault(v, set()).add(key)

    def _unindex(self, key: str, obj: Object) -> None:
        for name, fn in self._indexers.items():
            idx = self._indices[name]
            for v in fn(obj):
                s = idx.get(v)
                if s is not None:
                    s.discard(key)
                    if not s:
                        del idx[v]

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_period)
            if not self._synced.is_set():
                continue
            # in slices, letting the loop run between them: 30,000 pods delivered to
            # every handler in one go held up every API call for seconds
            for i, obj in enumerate(list(self._store.values()), 1):
                self._emit_update(obj, obj)
                if i % RESYNC_SLICE == 0:
                    await asyncio.sleep(0)

    # ---- delivery ----------------------------------------------------------
    def _emit_add(self, obj: Object) -> None:
        for h in self._handlers:
            if h.on_add:
                self._safe(h.on_add, obj)

    def _emit_update(self, old: Object, new: Object) -> None:
        for h in self._handlers:
            if h.on_update:
                self._safe(h.on_update, old, new)

    def _emit_delete(self, obj: Object) -> None:
        for h in self._handlers:
            if h.on_delete:
                self._safe(h.on_delete, obj)

    def _safe(self, fn: Callable[..., None], *args: Object) -> None:
        try:
            fn(*args)
        except Exception:  # a handler bug must not kill the cache
            log.exception("%s informer handler failed", self.resource)


class InformerFactory:
    """One informer per resource, shared by every loop in the process."""

    def __init__(self, client: Client, *, resync_period: float = 300.0) -> None:
        self.client = client
        self.resync_period = resync_period
        self._informers: dict[tuple[str, str], Informer] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    def informer(self, resource: str, namespace: str = "") -> Informer:
        k = (resource, namespace)
        inf = self._informers.get(k)
        if inf is None:
            inf = Informer(self.client, resource, namespace=namespace,
                           resync_period=self.resync_period)
            self._informers[k] = inf
            if self._started:  # already started: start this one too
                self._tasks.append(asyncio.create_task(inf.run(), name=f"informer-{resource}"))
        return inf

    def start(self) -> None:
        self._started = True
        for (resource, _), inf in self._informers.items():
            self._tasks.append(asyncio.create_task(inf.run(), name=f"informer-{resource}"))

    async def wait_synced(self) -> None:
        await asyncio.gather(*(inf.wait_synced() for inf in self._informers.values()))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks, 5.0, "informer")
        self._tasks.clear()
