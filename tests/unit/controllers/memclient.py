"""An in-memory `controlplane.client.Client` for unit tests of the loops.

Objects by (resource, namespace, name), a resourceVersion counter with
compare-and-swap on update, generateName, a kept status on update, watches
replayed from an event log (so nothing between a list and its watch is lost).
No validation, no defaulting, no grace periods: a delete removes at once, unless the
object has finalizers (then it gets deletionTimestamp and goes when an update removes
the last one), and propagationPolicy Foreground/Orphan is not done (Background is, by
the tests' own GC if they run one).
It cannot batch: create_all/bind_all answer BadRequest, as the Protocol allows.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import uuid
from collections.abc import AsyncGenerator, Sequence

from controlplane import errors
from controlplane.client import Client
from controlplane.objects import copy_of, meta_of, now_ts
from proto import api_pb2, kinds
from proto.labels import parse_selector

Object = api_pb2.Object
Key = tuple[str, str, str]


class MemClient:
    def __init__(self) -> None:
        self.objs: dict[Key, Object] = {}
        self.rv = 0
        self.log: list[tuple[int, str, api_pb2.WatchEvent]] = []   # (rv, resource, event)
        self._changed = asyncio.Condition()
        self._suffix = itertools.count()

    def _key(self, obj: Object) -> Key:
        k, m = kinds.of(obj), meta_of(obj)
        return k.resource, m.namespace if k.namespaced else "", m.name

    async def _record(self, type_: str, obj: Object) -> Object:
        self.rv += 1
        out = copy_of(obj)
        meta_of(out).resource_version = str(self.rv)
        key = self._key(out)
        if type_ == "DELETED":
            self.objs.pop(key, None)
        else:
            self.objs[key] = out
        self.log.append((self.rv, key[0], api_pb2.WatchEvent(type=type_, object=out)))
        async with self._changed:
            self._changed.notify_all()
        return copy_of(out)

    def _moved_past(self, rv: int) -> bool:
        return self.rv > rv

    def _current(self, key: Key) -> Object:
        try:
            return self.objs[key]
        except KeyError:
            raise errors.NotFound(f"{key[0]} {key[1]}/{key[2]} not found") from None

    # -- reads --------------------------------------------------------------

    async def get(self, resource: str, namespace: str, name: str) -> Object:
        kind = kinds.lookup(resource)
        return copy_of(self._current((kind.resource, namespace if kind.namespaced else "",
                                      name)))

    async def list(self, resource: str, namespace: str = "", label_selector: str = "",
                   field_selector: str = "") -> api_pb2.ObjectList:
        sel = parse_selector(label_selector)
        items = [copy_of(o) for (r, ns, _), o in sorted(self.objs.items())
                 if r == resource and namespace in ("", ns)
                 and sel.matches(meta_of(o).labels)]
        return api_pb2.ObjectList(items=items, resource_version=str(self.rv))

    async def watch(self, resource: str, namespace: str = "", label_selector: str = "",
                    field_selector: str = "", resource_version: str = "",
                    ) -> AsyncGenerator[api_pb2.WatchEvent, None]:
        after = int(resource_version) if resource_version else self.rv
        while True:
            seen = after
            for rv, res, ev in [e for e in self.log if e[0] > after]:
                seen = rv
                if res == resource and namespace in ("", meta_of(ev.object).namespace):
                    yield ev
            after = seen
            async with self._changed:
                await self._changed.wait_for(functools.partial(self._moved_past, seen))

    # -- writes -------------------------------------------------------------

    async def create(self, obj: Object) -> Object:
        new = copy_of(obj)
        m = meta_of(new)
        if kinds.of(new).namespaced:
            m.namespace = m.namespace or "default"
        if not m.name and m.generate_name:
            m.name = f"{m.generate_name}{next(self._suffix):05d}"
        if self._key(new) in self.objs:
            raise errors.AlreadyExists(f"{m.name} already exists")
        m.uid = str(uuid.uuid4())
        m.creation_timestamp.CopyFrom(now_ts())
        return await self._record("ADDED", new)

    async def update(self, obj: Object) -> Object:
        cur = self._current(self._key(obj))
        rv = meta_of(obj).resource_version
        if rv and rv != meta_of(cur).resource_version:
            raise errors.Conflict(f"{meta_of(obj).name}: resourceVersion {rv} is stale")
        new = copy_of(obj)
        kind = kinds.of(new)
        if "status" in kinds.unwrap(new).DESCRIPTOR.fields_by_name:
            getattr(new, kind.field).status.CopyFrom(getattr(cur, kind.field).status)
        m = meta_of(new)
        if meta_of(cur).HasField("deletion_timestamp"):
            m.deletion_timestamp.CopyFrom(meta_of(cur).deletion_timestamp)
            if not len(m.finalizers):
                return await self._record("DELETED", new)
        return await self._record("MODIFIED", new)

    async def update_status(self, obj: Object) -> Object:
        cur = self._current(self._key(obj))
        rv = meta_of(obj).resource_version
        if rv and rv != meta_of(cur).resource_version:
            raise errors.Conflict(f"{meta_of(obj).name}: resourceVersion {rv} is stale")
        new = copy_of(cur)
        field = kinds.of(new).field
        getattr(new, field).status.CopyFrom(getattr(obj, field).status)
        return await self._record("MODIFIED", new)

    async def delete(self, resource: str, namespace: str, name: str, *,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str = "Background",
                     resource_version: str = "") -> Object:
        cur = await self.get(resource, namespace, name)
        if resource_version and resource_version != meta_of(cur).resource_version:
            raise errors.Conflict(f"{name}: resourceVersion {resource_version} is stale")
        m = meta_of(cur)
        if len(m.finalizers):
            if m.HasField("deletion_timestamp"):
                return cur
            m.deletion_timestamp.CopyFrom(now_ts())
            return await self._record("MODIFIED", cur)
        return await self._record("DELETED", cur)

    async def bind(self, namespace: str, name: str, node_name: str,
                   resource_version: str = "", *, current: Object | None = None) -> Object:
        pod = await self.get("pods", namespace, name)
        if resource_version and resource_version != pod.pod.metadata.resource_version:
            raise errors.Conflict(f"pod {name} changed")
        pod.pod.spec.node_name = node_name
        return await self._record("MODIFIED", pod)

    async def create_all(self, objs: Sequence[Object]) -> Sequence[Object]:
        raise errors.BadRequest("batched creates are not supported")

    async def bind_all(self, items: Sequence[tuple[Object, str]]) -> Sequence[Object]:
        raise errors.BadRequest("batched binds are not supported")


def _check_protocol(c: MemClient) -> Client:
    return c   # mypy: MemClient is a Client
