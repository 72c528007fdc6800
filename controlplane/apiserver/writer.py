"""The registry's write path, shared by its verbs (registry.py) and the batch and
binding writes (batchcreate.py, binding.py): one object, so none of them
reaches into another's privates.

    w = Writer(store)
    kind, new, generated = w.prepare_create(obj)   # defaulted, validated, system fields set
    await w.create_prepared(kind, new, generated)  # namespace guard, generateName retries
    await w.cas_loop(obj, build)                   # read, build the new object, CAS write
    await w.delete(resource, namespace, name, ...) # two-phase deletion (deletion.py)
    await w.delete_namespace(name, ...)            # Terminating, content deleted, then gone

Objects whose last finalizer goes (or a bound pod its agent confirmed) are
removed at once, and a terminating namespace that became empty with them
(namespaces.py). Every method raises only errors.ApiError subclasses.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from controlplane import errors
from controlplane.apiserver import namespaces
from controlplane.apiserver import objects as o
from controlplane.apiserver.deletion import plan_delete
from controlplane.apiserver.services.network import ServiceNetwork
from controlplane.apiserver.services.storage import ServiceStorage
from controlplane.store.etcd_store import Store
from proto import api_pb2, kinds

Object = api_pb2.Object
Build = Callable[[Object], Awaitable[Object | None]]
CONFLICT_RETRIES = 20
_GENERATE_NAME_TRIES = 8


class Writer:
    def __init__(self, store: Store, service_network: ServiceNetwork | None = None) -> None:
        self.store = store
        self.open_namespaces = namespaces.OpenNamespaces(store)
        # Services: cluster IPs and node ports claimed with the object (services/storage.py)
        self.services = ServiceStorage(store, service_network)

    # -- create ---------------------------------------------------------------

    def prepare_create(self, obj: Object) -> tuple[kinds.Kind, Object, bool]:
        """(kind, the object as it will be stored, whether its name was generated)."""
        kind = o.kind_of(obj)
        new = o.copy(obj)
        m = o.meta(new)
        m.namespace = (m.namespace or "default") if kind.namespaced else ""
        o.set_type_meta(new, kind)
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

    async def create_prepared(self, kind: kinds.Kind, new: Object, generated: bool) -> Object:
        """Write what `prepare_create` made; a generated name that is taken is drawn again."""
        m = o.meta(new)
        services = kind.resource == "services"
        for _ in range(_GENERATE_NAME_TRIES if generated else 1):
            try:
                if not kind.namespaced:
                    return await self.store.create(new)
                return await self.open_namespaces.create_in(
                    new, write=self.services.create if services else None)
            except errors.AlreadyExists:
                if not generated:
                    raise
                m.name = m.generate_name + o.random_suffix()
        raise errors.AlreadyExists(f"could not generate a free name from {m.generate_name!r}")

    # -- update ---------------------------------------------------------------

    async def cas_loop(self, obj: Object, build: Build, *, dry_run: bool = False) -> Object:
        """Read the current object, build the new one from it, write it with CAS.

        With a resourceVersion in `obj` the read must match it (else Conflict), and
        when this process saw that version recently (a status update of an object it
        just wrote or watched) that copy is used instead of a read: the write's CAS
        on that revision still fails if the object changed since. Without a
        resourceVersion, lost races are retried on a fresh read. `build` returning
        None leaves the object as it is.
        """
        kind, m = o.kind_of(obj), o.meta(obj)
        ns = (m.namespace or "default") if kind.namespaced else ""
        want_rv = m.resource_version
        use_cache = bool(want_rv) and not dry_run   # only a write proves the copy current
        for _ in range(CONFLICT_RETRIES):
            cached = self.store.cached(kind.resource, ns, m.name, want_rv) \
                if use_cache else None
            old = cached or await self.store.get(kind.resource, ns, m.name)
            if want_rv and want_rv != o.meta(old).resource_version:
                raise errors.Conflict(
                    f"Operation cannot be fulfilled on {o.describe(old)}: the object has been "
                    f"modified (resourceVersion {want_rv} is now "
                    f"{o.meta(old).resource_version}); please apply your changes to the "
                    "latest version and try again")
            new = await build(old)
            if new is None:
                if cached is not None:   # nothing to write: read to answer the current one
                    use_cache = False
                    continue
                return old
            o.meta(new).resource_version = o.meta(old).resource_version
            if dry_run:
                return new
            try:
                written = await self._write(old, new)
            except errors.Conflict:
                if want_rv:
                    raise
                continue
            return await self.finalize_if_done(written)
        raise errors.Conflict(f"{o.describe(obj)}: too many concurrent writers; try again")

    async def _write(self, old: Object, new: Object) -> Object:
        """Store an update (a Service claims or releases its addresses with it)."""
        if new.WhichOneof("kind") == "service":
            return await self.services.update(old, new)
        return await self.store.update(new)

    async def _remove(self, cur: Object) -> Object:
        """Remove an object at its resourceVersion (a Service releases its addresses)."""
        if cur.WhichOneof("kind") == "service":
            return await self.services.delete(cur)
        kind, m = o.kind_of(cur), o.meta(cur)
        return await self.store.delete(kind.resource, m.namespace, m.name,
                                       resource_version=m.resource_version)

    async def finalize_if_done(self, obj: Object) -> Object:
        """An object being deleted whose last finalizer went away is removed now."""
        m = o.meta(obj)
        if not m.HasField("deletion_timestamp") or len(m.finalizers):
            return obj
        if o.is_bound_pod(obj) and m.deletion_grace_period_seconds != 0:
            return obj  # still waits for its agent's confirmation
        kind = o.kind_of(obj)
        if kind.resource == "namespaces":
            return await namespaces.reap(self.store, m.name) or obj
        try:
            removed = await self._remove(obj)
        except (errors.NotFound, errors.Conflict):
            return obj
        await namespaces.after_removal(self.store, removed)
        return removed

    # -- delete ---------------------------------------------------------------

    async def delete(self, kind: kinds.Kind, namespace: str, name: str, *,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str = "Background",
                     resource_version: str = "", dry_run: bool = False) -> Object:
        """Delete one object (not a namespace) by deletion.py's rules."""
        for _ in range(CONFLICT_RETRIES):
            cur = await self.store.get(kind.resource, namespace, name)
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
                    removed = await self._remove(cur)
                    await namespaces.after_removal(self.store, removed)
                    return removed
                return await self.store.update(new)
            except errors.Conflict:
                if resource_version:
                    raise
        raise errors.Conflict(f"deleting {kind.kind} {name!r}: too many concurrent writers")

    async def delete_namespace(self, name: str, resource_version: str,
                               dry_run: bool) -> Object:
        """Mark the namespace Terminating, delete everything in it (each object by its
        own rules), and remove it as soon as it is empty."""
        new = await namespaces.mark_terminating(self.store, name, resource_version, dry_run)
        if dry_run:
            return new
        for kind in kinds.KINDS:
            if not kind.namespaced:
                continue
            items, _ = await self.store.list(kind.resource, name)
            for item in items:
                try:
                    await self.delete(kind, name, o.meta(item).name)
                except errors.NotFound:
                    pass
        return await namespaces.reap(self.store, name) or new
