"""The semantics of the API on top of the store (see docs/internals.md).

Used in-process by the gRPC service and by the scheduler and controllers.
Every method raises only errors.ApiError subclasses.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

from controlplane import errors
from controlplane.apiserver import batchcreate, binding, namespaces
from controlplane.apiserver import objects as o
from controlplane.apiserver.deletion import plan_delete
from controlplane.apiserver.selection import Filter
from controlplane.apiserver.updates import merge_update
from controlplane.store import Store
from controlplane.store.watch import BOOKMARK
from proto import api_pb2, kinds

log = logging.getLogger(__name__)

Object = api_pb2.Object
SYSTEM_NAMESPACES = ("default", "corral-system", "corral-node-lease")
CONFLICT_RETRIES = 20


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.open_namespaces = namespaces.OpenNamespaces(store)

    async def start(self) -> None:
        """Make sure the namespaces that always exist do."""
        for name in SYSTEM_NAMESPACES:
            ns = Object()
            ns.namespace.metadata.name = name
            try:
                await self.create(ns)
            except errors.AlreadyExists:
                pass

    # -- reads --------------------------------------------------------------

    async def get(self, resource: str, namespace: str, name: str) -> Object:
        kind = o.kind_named(resource)
        return await self.store.get(kind.resource, namespace if kind.namespaced else "", name)

    async def list(self, resource: str, namespace: str = "", label_selector: str = "",
                   field_selector: str = "") -> api_pb2.ObjectList:
        kind = o.kind_named(resource)
        flt = Filter(kind.resource, label_selector, field_selector)
        items, rev = await self.store.list(kind.resource, namespace if kind.namespaced else "")
        return api_pb2.ObjectList(items=[i for i in items if flt.matches(i)],
                                  resource_version=str(rev))

    async def watch(self, resource: str, namespace: str = "", label_selector: str = "",
                    field_selector: str = "", resource_version: str = "",
                    allow_bookmarks: bool = False,
                    ) -> AsyncGenerator[api_pb2.WatchEvent, None]:
        """Events after `resource_version` ("" or "0": from now).

        With `allow_bookmarks`, BOOKMARK events (an empty object carrying only
        metadata.resourceVersion) say that nothing matching changed up to there.
        """
        kind = o.kind_named(resource)
        flt = Filter(kind.resource, label_selector, field_selector)
        ns = namespace if kind.namespaced else ""
        async for ev in self.store.watch(kind.resource, ns, resource_version):
            if ev.type == BOOKMARK:
                if allow_bookmarks:
                    yield api_pb2.WatchEvent(type=BOOKMARK, object=ev.object,
                                             resource_version=str(ev.revision))
                continue
            out = flt.translate(ev)
            if out is not None:
                yield out

    # -- create ---------------------------------------------------------------

    async def create(self, obj: Object, *, dry_run: bool = False) -> Object:
        kind, new, generated = self._prepare_create(obj)
        m = o.meta(new)
        if kind.namespaced and dry_run:
            await self.open_namespaces.check(m.namespace)
        if dry_run:
            return new
        for _ in range(8 if generated else 1):
            try:
                if not kind.namespaced:
                    return await self.store.create(new)
                return await self.open_namespaces.create_in(new)
            except errors.AlreadyExists:
                if not generated:
                    raise
                m.name = m.generate_name + o.random_suffix()
        raise errors.AlreadyExists(f"could not generate a free name from {m.generate_name!r}")

    async def create_all(self, objs: Sequence[Object]) -> Sequence[Object]:
        """Create named objects in one etcd transaction, all or none (AlreadyExists,
        or Conflict if a namespace changed: then create them one by one)."""
        return await batchcreate.create_all(self, objs)

    def _prepare_create(self, obj: Object) -> tuple[kinds.Kind, Object, bool]:
        """(kind, the object as it will be stored, whether its name was generated)."""
        kind = o.kind_of(obj)
        new = o.copy(obj)
        m = o.meta(new)
        if kind.namespaced:
            m.namespace = m.namespace or "default"
        else:
            m.namespace = ""
        typed = o.msg(new)
        typed.api_version, typed.kind = kind.api_version, kind.kind
        for f in o.SYSTEM_META:
            m.ClearField(f)
        m.uid = str(uuid.uuid4())
        m.creation_timestamp.CopyFrom(o.now())
        m.generation = 1
        if kind.resource == "namespaces" and not new.namespace.status.phase:
            new.namespace.status.phase = "Active"
        generated = not m.name and bool(m.generate_name)
        if generated:
            m.name = m.generate_name + o.random_suffix()
        o.apply_defaults(new)
        o.validate(new)
        return kind, new, generated

    # -- update ---------------------------------------------------------------

    async def _cas_loop(self, obj: Object, build: Callable[[Object], Awaitable[Object | None]],
                        *, dry_run: bool = False) -> Object:
        """Read the current object, build the new one from it, write it with CAS.

        With a resourceVersion in `obj` the read must match it (else Conflict);
        without, lost races are retried on a fresh read.
        """
        kind, m = o.kind_of(obj), o.meta(obj)
        ns = (m.namespace or "default") if kind.namespaced else ""
        want_rv = m.resource_version
        for _ in range(CONFLICT_RETRIES):
            old = await self.store.get(kind.resource, ns, m.name)
            if want_rv and want_rv != o.meta(old).resource_version:
                raise errors.Conflict(
                    f"Operation cannot be fulfilled on {o.describe(old)}: the object has been "
                    f"modified (resourceVersion {want_rv} is now "
                    f"{o.meta(old).resource_version}); please apply your changes to the "
                    "latest version and try again")
            new = await build(old)
            if new is None:
                return old
            o.meta(new).resource_version = o.meta(old).resource_version
            if dry_run:
                return new
            try:
                written = await self.store.update(new)
            except errors.Conflict:
                if want_rv:
                    raise
                continue
            return await self._finalize_if_done(written)
        raise errors.Conflict(f"{o.describe(obj)}: too many concurrent writers; try again")

    async def _finalize_if_done(self, obj: Object) -> Object:
        """An object being deleted whose last finalizer went away is removed now."""
        m = o.meta(obj)
        if not m.HasField("deletion_timestamp") or len(m.finalizers):
            return obj
        if o.is_bound_pod(obj) and m.deletion_grace_period_seconds != 0:
            return obj  # still waits for its agent's confirmation
        kind = o.kind_of(obj)
        if kind.resource == "namespaces":
            return await namespaces.reap(self, m.name) or obj
        try:
            removed = await self.store.delete(kind.resource, m.namespace, m.name,
                                              resource_version=m.resource_version)
        except (errors.NotFound, errors.Conflict):
            return obj
        await namespaces.after_removal(self, removed)
        return removed

    async def update(self, obj: Object, *, dry_run: bool = False) -> Object:
        async def build(old: Object) -> Object | None:
            return merge_update(old, obj)

        return await self._cas_loop(obj, build, dry_run=dry_run)

    async def update_status(self, obj: Object) -> Object:
        if not o.has_status(obj):
            raise errors.BadRequest(f"{o.kind_of(obj).kind} has no status")

        async def build(old: Object) -> Object | None:
            new = o.copy(old)
            o.msg(new).status.CopyFrom(o.msg(obj).status)
            o.validate(new, old)
            return new

        return await self._cas_loop(obj, build)

    async def apply(self, obj: Object, *, dry_run: bool = False) -> tuple[Object, str]:
        kind, m = o.kind_of(obj), o.meta(obj)
        ns = (m.namespace or "default") if kind.namespaced else ""
        if not m.name:
            return await self.create(obj, dry_run=dry_run), "created"
        try:
            await self.store.get(kind.resource, ns, m.name)
        except errors.NotFound:
            try:
                return await self.create(obj, dry_run=dry_run), "created"
            except errors.AlreadyExists:
                pass  # created meanwhile: fall through to an update
        unchanged = False

        async def build(old: Object) -> Object | None:
            nonlocal unchanged
            new = merge_update(old, obj, keep_missing=True)
            unchanged = o.body(new) == o.body(old)
            return None if unchanged else new

        applied = o.copy(obj)
        o.meta(applied).resource_version = ""
        o.meta(applied).namespace = ns
        result = await self._cas_loop(applied, build, dry_run=dry_run)
        return result, "unchanged" if unchanged else "configured"

    # -- delete and bind --------------------------------------------------------

    async def delete(self, resource: str, namespace: str, name: str, *,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str = "Background",
                     resource_version: str = "", dry_run: bool = False) -> Object:
        kind = o.kind_named(resource)
        ns = namespace if kind.namespaced else ""
        if kind.resource == "namespaces" and name in SYSTEM_NAMESPACES:
            raise errors.Forbidden(f'namespace "{name}" is a system namespace and cannot '
                                   "be deleted")
        if kind.resource == "namespaces":
            return await namespaces.delete_namespace(self, name, resource_version, dry_run)
        for _ in range(CONFLICT_RETRIES):
            cur = await self.store.get(kind.resource, ns, name)
            rv = o.meta(cur).resource_version
            if resource_version and resource_version != rv:
                raise errors.Conflict(
                    f"Precondition failed for {o.describe(cur)}: resourceVersion "
                    f"{resource_version} is now {rv}")
            action, new = plan_delete(cur, grace_period_seconds, propagation_policy)
            if dry_run or action == "noop":
                return new
            try:
                if action == "remove":
                    removed = await self.store.delete(kind.resource, ns, name,
                                                      resource_version=rv)
                    await namespaces.after_removal(self, removed)
                    return removed
                return await self.store.update(new)
            except errors.Conflict:
                if resource_version:
                    raise
        raise errors.Conflict(f"deleting {kind.kind} {name!r}: too many concurrent writers")

    async def bind(self, namespace: str, name: str, node_name: str,
                   resource_version: str = "", *, current: Object | None = None) -> Object:
        """Bind a pod (CAS on resource_version, if given). `current`: the pod as the
        caller last saw it; at resource_version it is written without a read first."""
        return await binding.bind(self, namespace, name, node_name, resource_version, current)

    async def bind_all(self, items: Sequence[tuple[Object, str]]) -> Sequence[Object]:
        """Bind pods as last seen (at their resourceVersion) in one transaction, all or
        none: Conflict if any changed (then bind them one at a time)."""
        return await binding.bind_all(self.store, items)
