"""Garbage collector: ownerReferences and deletion propagation.

* Background: a dependent all of whose owners are gone is deleted (owners
  missing from the cache are confirmed with a live read first). Owner
  references to owners that are gone are removed when others remain.
* Foreground: an owner being deleted with the ``foregroundDeletion``
  finalizer gets its dependents deleted (themselves in the foreground); when
  none is left the finalizer is removed and the owner goes.
* Orphan: an owner being deleted with the ``orphan`` finalizer gets its
  ownerReference removed from every dependent, then the finalizer removed.

Works over the kinds that own or are owned: deployments, replicasets, pods, jobs,
cronjobs, daemonsets, statefulsets, controllerrevisions, persistentvolumeclaims.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from controlplane import errors, events
from controlplane.client import Client
from controlplane.informer import Handler, Informer, InformerFactory
from controlplane.objects import meta_of as _meta
from proto import api_pb2, kinds, meta_pb2

from .base import DONE, Controller, Result

log = logging.getLogger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
RESOURCES = ("deployments", "replicasets", "pods", "jobs", "cronjobs", "daemonsets",
             "statefulsets", "controllerrevisions", "persistentvolumeclaims")


class GarbageCollector(Controller):
    name = "garbagecollector"
    workers = 4

    def __init__(self, client: Client, factory: InformerFactory, *,
                 recorder: events.EventRecorder | None = None,
                 backoff_initial: float = 0.005, backoff_max: float = 5.0) -> None:
        super().__init__(backoff_initial=backoff_initial, backoff_max=backoff_max)
        self.client = client
        self.recorder = recorder or events.EventRecorder(client, "garbage-collector")
        self.informers: dict[str, Informer] = {}
        for r in RESOURCES:
            inf = factory.informer(r)
            inf.add_indexer("gc-owner", lambda o: [ref.uid for ref in _meta(o).owner_references])
            inf.add_indexer("gc-uid", lambda o: [_meta(o).uid])
            inf.add_handler(Handler(
                (lambda o, r=r: self._changed(r, o)),  # type: ignore[misc]
                (lambda old, new, r=r: self._changed(r, new)),  # type: ignore[misc]
                (lambda o, r=r: self._deleted(r, o))))  # type: ignore[misc]
            self.informers[r] = inf

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self.informers.values()))

    def _key(self, resource: str, o: api_pb2.Object) -> str:
        return f"{resource}|{kinds.key_of(o)}"

    def _changed(self, resource: str, o: api_pb2.Object) -> None:
        m = _meta(o)
        if m.owner_references or m.HasField("deletion_timestamp"):
            self.enqueue(self._key(resource, o))

    def _deleted(self, resource: str, o: api_pb2.Object) -> None:
        m = _meta(o)
        for dep_res, dep in self.dependents(m.uid):
            self.enqueue(self._key(dep_res, dep))
        # a foreground-deleting owner waits for its dependents to go
        for ref in m.owner_references:
            for r, inf in self.informers.items():
                for owner in inf.by_index("gc-uid", ref.uid):
                    if _meta(owner).HasField("deletion_timestamp"):
                        self.enqueue(self._key(r, owner))

    def dependents(self, uid: str) -> list[tuple[str, api_pb2.Object]]:
        out = []
        for r, inf in self.informers.items():
            for o in inf.by_index("gc-owner", uid):
                out.append((r, o))
        return out

    async def reconcile(self, key: str) -> Result:
        resource, _, nk = key.partition("|")
        inf = self.informers[resource]
        obj = inf.get(nk)
        if obj is None:
            return DONE
        m = _meta(obj)
        if m.HasField("deletion_timestamp"):
            if ORPHAN in m.finalizers:
                await self._orphan(resource, obj)
            if FOREGROUND in m.finalizers:
                res = await self._foreground(resource, obj)
                if res is not None:
                    return res
        if m.owner_references:
            await self._check_owners(resource, obj)
        return DONE

    async def _owner_gone(self, namespace: str, ref: meta_pb2.OwnerReference) -> bool:
        try:
            k = kinds.by_api_version_kind(ref.api_version, ref.kind)
        except kinds.UnknownKind:
            return False
        inf = self.informers.get(k.resource)
        if inf is not None and inf.by_index("gc-uid", ref.uid):
            return False
        try:
            live = await self.client.get(k.resource, namespace if k.namespaced else "",
                                           ref.name)
        except errors.NotFound:
            return True
        return bool(_meta(live).uid != ref.uid)

    async def _check_owners(self, resource: str, obj: api_pb2.Object) -> None:
        m = _meta(obj)
        gone = [ref.uid for ref in m.owner_references
                if await self._owner_gone(m.namespace, ref)]
        if not gone:
            return
        if len(gone) == len(m.owner_references):
            if m.HasField("deletion_timestamp"):
                return
            try:
                await self.client.delete(resource, m.namespace, m.name,
                                           propagation_policy="Background")
            except errors.NotFound:
                pass
            return
        await self._remove_refs(resource, m.namespace, m.name, set(gone))

    async def _remove_refs(self, resource: str, namespace: str, name: str,
                           uids: set[str]) -> None:
        def change(m: meta_pb2.ObjectMeta) -> bool:
            keep = [r for r in m.owner_references if r.uid not in uids]
            if len(keep) == len(m.owner_references):
                return False
            del m.owner_references[:]
            m.owner_references.extend(keep)
            return True

        await self._edit_meta(resource, namespace, name, change, "remove owner references")

    async def _remove_finalizer(self, resource: str, obj: api_pb2.Object, fin: str) -> None:
        def change(m: meta_pb2.ObjectMeta) -> bool:
            if fin not in m.finalizers:
                return False
            keep = [f for f in m.finalizers if f != fin]
            del m.finalizers[:]
            m.finalizers.extend(keep)
            return True

        m = _meta(obj)
        await self._edit_meta(resource, m.namespace, m.name, change, f"remove {fin}")

    async def _edit_meta(self, resource: str, namespace: str, name: str,
                         change: Callable[[meta_pb2.ObjectMeta], bool], what: str) -> None:
        """Read the object, `change` its metadata (False: nothing to change) and write it
        back with compare-and-swap; a lost race is retried, a gone object is done."""
        for _ in range(5):
            try:
                cur = await self.client.get(resource, namespace, name)
            except errors.NotFound:
                return
            if not change(_meta(cur)):
                return
            try:
                await self.client.update(cur)
                return
            except errors.Conflict:
                continue
            except errors.NotFound:
                return
        raise errors.Conflict(f"{resource} {namespace}/{name}: could not {what}")

    async def _orphan(self, resource: str, obj: api_pb2.Object) -> None:
        m = _meta(obj)
        for dep_res, dep in self.dependents(m.uid):
            dm = _meta(dep)
            await self._remove_refs(dep_res, dm.namespace, dm.name, {m.uid})
        await self._remove_finalizer(resource, obj, ORPHAN)

    async def _foreground(self, resource: str, obj: api_pb2.Object) -> Result | None:
        m = _meta(obj)
        deps = self.dependents(m.uid)
        for dep_res, dep in deps:
            dm = _meta(dep)
            if dm.HasField("deletion_timestamp"):
                continue
            try:
                await self.client.delete(dep_res, dm.namespace, dm.name,
                                           propagation_policy="Foreground")
            except errors.NotFound:
                pass
        if deps:
            return Result(requeue_after=1.0)  # dependents' deletions also wake us
        # confirm with a live list of the dependent kinds (the cache may lag)
        await self._remove_finalizer(resource, obj, FOREGROUND)
        return None
