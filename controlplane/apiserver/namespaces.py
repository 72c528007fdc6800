"""Namespace deletion: a namespace goes only once its content is gone.

Deleting a namespace marks it Terminating (deletionTimestamp, status.phase
Terminating, spec.finalizers ["kubernetes"]), refuses new content in it,
deletes every object in it (each by its own rules: a bound pod waits for its
agent), and removes the namespace as soon as nothing is left; the registry
calls `reap` whenever it removes an object from a terminating namespace.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from controlplane import errors
from controlplane.apiserver import objects as o
from proto import api_pb2, kinds

if TYPE_CHECKING:
    from controlplane.apiserver.registry import Registry

log = logging.getLogger(__name__)

CONTENT_FINALIZER = "kubernetes"


async def delete_namespace(reg: Registry, name: str, resource_version: str,
                           dry_run: bool) -> api_pb2.Object:
    cur = await reg.store.get("namespaces", "", name)
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
    if dry_run:
        return new
    if new != cur:
        new = await reg.store.update(new)
    for kind in kinds.KINDS:
        if not kind.namespaced:
            continue
        items, _ = await reg.store.list(kind.resource, name)
        for item in items:
            try:
                await reg.delete(kind.resource, name, o.meta(item).name)
            except errors.NotFound:
                pass
    return await reap(reg, name) or new


async def reap(reg: Registry, name: str) -> api_pb2.Object | None:
    """Remove a terminating namespace if it is empty; returns it if removed."""
    try:
        ns = await reg.store.get("namespaces", "", name)
    except errors.NotFound:
        return None
    if not ns.namespace.metadata.HasField("deletion_timestamp"):
        return None
    for kind in kinds.KINDS:
        if kind.namespaced and (await reg.store.list(kind.resource, name))[0]:
            return None
    new = o.copy(ns)
    fins = [f for f in new.namespace.spec.finalizers if f != CONTENT_FINALIZER]
    del new.namespace.spec.finalizers[:]
    new.namespace.spec.finalizers.extend(fins)
    if fins or len(new.namespace.metadata.finalizers):
        if new != ns:
            await reg.store.update(new)
        return None
    try:
        return await reg.store.delete("namespaces", "", name,
                                      resource_version=o.meta(ns).resource_version)
    except (errors.Conflict, errors.NotFound):
        return None


async def after_removal(reg: Registry, obj: api_pb2.Object) -> None:
    """Called after an object was removed from the store."""
    if not o.kind_of(obj).namespaced:
        return
    try:
        await reap(reg, o.meta(obj).namespace)
    except errors.ApiError as e:
        log.warning("could not finish deleting namespace %s: %s", o.meta(obj).namespace, e)
