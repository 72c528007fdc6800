"""Namespace deletion: a namespace goes only once its content is gone.

Deleting a namespace marks it Terminating (deletionTimestamp, status.phase
Terminating, spec.finalizers ["kubernetes"]), refuses new content in it,
deletes every object in it (each by its own rules: a bound pod waits for its
agent), and removes the namespace as soon as nothing is left: `mark_terminating`
here, the content by writer.py, which calls `reap` whenever it removes an object
from a terminating namespace.

Creating content: `OpenNamespaces` remembers the resourceVersion at which each
namespace was last seen open (not terminating) and creates an object in one
etcd transaction guarded by that version; only when the namespace changed
does it read it again (Kubernetes' admission reads it from an informer).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.store.etcd_store import Guard, GuardChanged, Store
from proto import api_pb2, kinds

log = logging.getLogger(__name__)

CONTENT_FINALIZER = "kubernetes"
_MAX_REMEMBERED = 4096
_GUARD_RETRIES = 20

CreateFn = Callable[[api_pb2.Object, Guard], Awaitable[api_pb2.Object]]


class OpenNamespaces:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._rv: dict[str, str] = {}  # namespace -> resourceVersion seen open

    async def check(self, namespace: str) -> str:
        """The namespace's resourceVersion if it exists and is not terminating."""
        try:
            ns = await self.store.get("namespaces", "", namespace)
        except errors.NotFound:
            raise errors.NotFound(f'namespaces "{namespace}" not found') from None
        if ns.namespace.metadata.HasField("deletion_timestamp"):
            raise errors.Forbidden(f'unable to create new content in namespace "{namespace}" '
                                   "because it is being terminated")
        rv = ns.namespace.metadata.resource_version
        if len(self._rv) >= _MAX_REMEMBERED:
            self._rv.clear()
        self._rv[namespace] = rv
        return rv

    async def version(self, namespace: str) -> str:
        """The resourceVersion at which the namespace was last seen open (read if unknown)."""
        return self._rv.get(namespace) or await self.check(namespace)

    def forget(self, namespace: str) -> None:
        self._rv.pop(namespace, None)

    async def create_in(self, new: api_pb2.Object, write: CreateFn | None = None,
                        ) -> api_pb2.Object:
        """Create `new` if its namespace is (still) open: usually one etcd transaction.
        `write(obj, guard)` writes it (default: Store.create; Services claim addresses)."""
        ns = o.meta(new).namespace
        for _ in range(_GUARD_RETRIES):
            rv = await self.version(ns)
            try:
                if write is not None:
                    return await write(new, ("namespaces", "", ns, rv))
                return await self.store.create(new, guard=("namespaces", "", ns, rv))
            except GuardChanged:
                self.forget(ns)
        raise errors.Conflict(f'namespace "{ns}" keeps changing; try again')


async def mark_terminating(store: Store, name: str, resource_version: str,
                           dry_run: bool) -> api_pb2.Object:
    """The first step of deleting a namespace: deletionTimestamp, phase Terminating and
    the content finalizer (written unless `dry_run`); writer.py deletes the content."""
    cur = await store.get("namespaces", "", name)
    rv = o.meta(cur).resource_version
    if resource_version and resource_version != rv:
        raise errors.Conflict(f'Precondition failed for namespace "{name}": resourceVersion '
                              f"{resource_version} is now {rv}")
    new = o.copy(cur)
    if not new.namespace.metadata.HasField("deletion_timestamp"):
        new.namespace.metadata.deletion_timestamp.CopyFrom(o.now())
        new.namespace.metadata.deletion_grace_period_seconds = 0
    new.namespace.status.phase = "Terminating"
    if CONTENT_FINALIZER not in new.namespace.spec.finalizers:
        new.namespace.spec.finalizers.append(CONTENT_FINALIZER)
    if dry_run or new == cur:
        return new
    return await store.update(new)


async def reap(store: Store, name: str) -> api_pb2.Object | None:
    """Remove a terminating namespace if it is empty; returns it if removed."""
    try:
        ns = await store.get("namespaces", "", name)
    except errors.NotFound:
        return None
    if not ns.namespace.metadata.HasField("deletion_timestamp"):
        return None
    for kind in kinds.KINDS:
        if kind.namespaced and (await store.list(kind.resource, name))[0]:
            return None
    new = o.copy(ns)
    fins = [f for f in new.namespace.spec.finalizers if f != CONTENT_FINALIZER]
    del new.namespace.spec.finalizers[:]
    new.namespace.spec.finalizers.extend(fins)
    if fins or len(new.namespace.metadata.finalizers):
        if new != ns:
            await store.update(new)
        return None
    try:
        return await store.delete("namespaces", "", name,
                                      resource_version=o.meta(ns).resource_version)
    except (errors.Conflict, errors.NotFound):
        return None


async def after_removal(store: Store, obj: api_pb2.Object) -> None:
    """Called after an object was removed from the store."""
    if not o.kind_of(obj).namespaced:
        return
    try:
        await reap(store, o.meta(obj).namespace)
    except errors.ApiError as e:
        log.warning("could not finish deleting namespace %s: %s", o.meta(obj).namespace, e)
