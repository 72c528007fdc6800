"""The semantics of the API on top of the store (see docs/internals.md).

Used in-process by the gRPC service and, as the `controlplane.client.Client`
the loops are written against, by the scheduler and controllers. The verbs
compose the write path of writer.py (creation, compare-and-swap updates,
two-phase deletion) with the batch and binding writes (batchcreate.py,
binding.py). Every method raises only errors.ApiError subclasses.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence

from controlplane import errors
from controlplane.apiserver import batchcreate, binding, builtins, paging, readversion
from controlplane.apiserver import objects as o
from controlplane.apiserver.selection import Filter
from controlplane.apiserver.services.network import ServiceNetwork
from controlplane.apiserver.updates import merge_update
from controlplane.apiserver.wirewatch import Encodings
from controlplane.apiserver.writer import Writer
from controlplane.store.etcd_store import Store
from controlplane.store.watch import BOOKMARK
from proto import api_pb2

log = logging.getLogger(__name__)

Object = api_pb2.Object
SYSTEM_NAMESPACES = ("default", "corral-system", "corral-node-lease",
                     "kube-system", "kube-public", "kube-node-lease")


class Registry:
    def __init__(self, store: Store, *, service_network: ServiceNetwork | None = None) -> None:
        self.store = store
        # service_network: where Services' cluster IPs and node ports come from
        self.writer = Writer(store, service_network)
        self.encodings = Encodings()

    async def start(self) -> None:
        """Make sure the namespaces that always exist do, and the built-in objects."""
        for name in SYSTEM_NAMESPACES:
            ns = Object()
            ns.namespace.metadata.name = name
            try:
                await self.create(ns)
            except errors.AlreadyExists:
                pass
        for obj in builtins.objects():
            try:
                await self.create(obj)
            except errors.AlreadyExists:
                pass

    # -- reads --------------------------------------------------------------

    async def get(self, resource: str, namespace: str, name: str,
                  resource_version: str = "") -> Object:
        """The object; `resource_version` (readversion.py): not older than that."""
        kind = o.kind_named(resource)
        want = readversion.parse(resource_version, listing=False)
        obj = await self.store.get(kind.resource, namespace if kind.namespaced else "", name)
        if want.at_least > int(o.meta(obj).resource_version or 0):
            want.check(await self.store.revision())
        return obj

    async def list(self, resource: str, namespace: str = "", label_selector: str = "",
                   field_selector: str = "", *, limit: int = 0,
                   continue_token: str = "", resource_version: str = "",
                   resource_version_match: str = "") -> api_pb2.ObjectList:
        """The matching objects; with `limit` or `continue_token`, one page of them
        (controlplane/apiserver/paging.py); `resource_version` and its match as
        readversion.py says (Exact: the list as it was at that revision)."""
        kind = o.kind_named(resource)
        flt = Filter(kind.resource, label_selector, field_selector)
        want = readversion.parse(resource_version, resource_version_match)
        if continue_token and (resource_version not in ("", "0") or resource_version_match):
            raise readversion.invalid("continue", "Forbidden: specifying resource version is "
                                                  "not allowed when using continue")
        ns = namespace if kind.namespaced else ""
        if limit > 0 or continue_token:
            page = await paging.list_page(self.store, kind.resource, ns, flt, limit,
                                          continue_token, want.revision)
            want.check(int(page.resource_version))
            return page
        items, rev, _ = await self.store.list_page(kind.resource, ns, "", 0, want.revision)
        want.check(rev)
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

    async def watch_wire(self, resource: str, namespace: str = "", label_selector: str = "",
                         field_selector: str = "", resource_version: str = "",
                         allow_bookmarks: bool = False) -> AsyncGenerator[bytes, None]:
        """`watch`'s events serialized, for the gRPC Watch: an event an unfiltered
        watcher gets as it is is serialized once for all of them (wirewatch.py)."""
        kind = o.kind_named(resource)
        flt = Filter(kind.resource, label_selector, field_selector)
        ns = namespace if kind.namespaced else ""
        async for ev in self.store.watch(kind.resource, ns, resource_version):
            if ev.type == BOOKMARK:
                if allow_bookmarks:
                    yield api_pb2.WatchEvent(type=BOOKMARK, object=ev.object,
                                             resource_version=str(ev.revision)
                                             ).SerializeToString()
            elif flt.everything:
                yield self.encodings.shared(ev)
            else:
                out = flt.translate(ev)
                if out is not None:
                    yield out.SerializeToString()

    # -- create ---------------------------------------------------------------

    async def create(self, obj: Object, *, dry_run: bool = False) -> Object:
        kind, new, generated = self.writer.prepare_create(obj)
        if kind.namespaced and dry_run:
            await self.writer.open_namespaces.check(o.meta(new).namespace)
        if dry_run:       # a Service shows the address it would get, nothing claimed
            return await self.writer.services.dry_run(new) if kind.resource == "services" \
                else new
        return await self.writer.create_prepared(kind, new, generated)

    async def create_all(self, objs: Sequence[Object]) -> Sequence[Object]:
        """Create named objects in one etcd transaction, all or none (AlreadyExists,
        or Conflict if a namespace changed: then create them one by one)."""
        return await batchcreate.create_all(self.writer, objs)

    # -- update ---------------------------------------------------------------

    async def update(self, obj: Object, *, dry_run: bool = False) -> Object:
        async def build(old: Object) -> Object | None:
            return merge_update(old, obj)

        return await self.writer.cas_loop(obj, build, dry_run=dry_run)

    async def update_status(self, obj: Object) -> Object:
        if not o.has_status(obj):
            raise errors.BadRequest(f"{o.kind_of(obj).kind} has no status")

        async def build(old: Object) -> Object | None:
            new = o.copy(old)
            o.copy_status(new, obj)
            o.validate(new, old)
            return new

        return await self.writer.cas_loop(obj, build)

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
        result = await self.writer.cas_loop(applied, build, dry_run=dry_run)
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
            return await self.writer.delete_namespace(name, resource_version, dry_run)
        return await self.writer.delete(kind, ns, name,
                                        grace_period_seconds=grace_period_seconds,
                                        propagation_policy=propagation_policy,
                                        resource_version=resource_version, dry_run=dry_run)

    async def bind(self, namespace: str, name: str, node_name: str,
                   resource_version: str = "", *, current: Object | None = None) -> Object:
        """Bind a pod (CAS on resource_version, if given). `current`: the pod as the
        caller last saw it; at resource_version it is written without a read first."""
        return await binding.bind(self.writer, namespace, name, node_name, resource_version,
                                  current)

    async def bind_all(self, items: Sequence[tuple[Object, str]]) -> Sequence[Object]:
        """Bind pods as last seen (at their resourceVersion) in one transaction, all or
        none: Conflict if any changed (then bind them one at a time)."""
        return await binding.bind_all(self.writer, items)
