"""etcd-backed storage of api_pb2.Object (binary protobuf).

    store = Store("127.0.0.1:2379")            # or "h1:p1,h2:p2"
    obj = await store.create(obj)              # AlreadyExists
    obj = await store.get("pods", "default", "web")          # NotFound
    items, rev = await store.list("pods", namespace="")     # rev: list resourceVersion
    obj = await store.update(obj)              # CAS on metadata.resourceVersion; Conflict
    old = await store.delete("pods", "default", "web", resource_version="")
    async for ev in store.watch("pods", "default", resource_version=rev): ...
    await store.close()

metadata.resourceVersion is the etcd mod revision of the key; it is set on every
object returned and never stored. `transformers` (resource -> ValueTransformer) change a
resource's values on their way to etcd and back: the control plane encrypts Secrets
(controlplane/store/encryption.py), and a Store without a transformer for a resource of
ENCRYPTED_RESOURCES (objcodec.py, with the encoding) refuses to write it. A watch event
whose value cannot be decrypted is logged and skipped. Failures are errors.ApiError
(Unavailable: etcd down or leaderless; TooLarge over etcd's request limit).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence

from aetcd import rpc

from controlplane import errors
from controlplane.objects import describe
from controlplane.objects import meta_of as meta
from controlplane.store import keys
from controlplane.store.etcdclient import EtcdTLS
from controlplane.store.etcdio import Connection
from controlplane.store.objcodec import ObjectCodec, ValueTransformer
from controlplane.store.watch import Fanout, StoreEvent
from proto import api_pb2, kinds

log = logging.getLogger(__name__)

ObjList = list[api_pb2.Object]
# etcd transaction parts (aetcd ships no type information: mypy cannot check them)
Compares = list[rpc.Compare]
Ops = list[rpc.RequestOp]
# a guard on a write: (resource, namespace, name, resourceVersion) that must still be current
Guard = tuple[str, str, str, str]


class GuardChanged(errors.Conflict):
    """The guard object of a guarded write changed (or is gone): nothing was written."""


def _parse_rv(rv: str, what: str) -> int:
    try:
        value = int(rv)
    except ValueError:
        raise errors.BadRequest(f"{what}: resourceVersion {rv!r} is not a number") from None
    if value < 0:
        raise errors.BadRequest(f"{what}: resourceVersion {rv!r} is negative")
    return value


class Store(ObjectCodec):
    def __init__(self, endpoints: str | Sequence[str], *, timeout: float = 5.0,
                 history: int = 1000, tls: EtcdTLS | None = None,
                 transformers: Mapping[str, ValueTransformer] | None = None) -> None:
        self.conn = Connection(endpoints, timeout, tls=tls)
        self.history = history
        super().__init__(transformers)
        self._fanouts: dict[str, Fanout] = {}

    async def close(self) -> None:
        for f in self._fanouts.values():
            await f.close()
        self._fanouts.clear()
        await self.conn.close()

    # -- reads ------------------------------------------------------------

    async def get(self, resource: str, namespace: str, name: str) -> api_pb2.Object:
        what = describe(resource, namespace, name)
        with self.conn.guard(f"reading {what}"):
            resp = await (await self.conn.kv()).Range(
                rpc.RangeRequest(key=keys.key(resource, namespace, name).encode()),
                timeout=self.conn.timeout)
        if not resp.kvs:
            raise errors.NotFound(f"{what} not found")
        kv = resp.kvs[0]
        return self._decode(kv.value, kv.mod_revision, kv.key, remember=True)

    def cached(self, resource: str, namespace: str, name: str,
               resource_version: str) -> api_pb2.Object | None:
        """The object as it was at `resource_version`, if this process saw that version
        recently (self.recent); None otherwise (read it). Not proof that it is current."""
        if not resource_version.isdigit():
            return None
        key = keys.key(resource, namespace, name).encode()
        data = self.recent.at(key, int(resource_version))
        return None if data is None else self._decode(data, int(resource_version), key)

    async def list(self, resource: str, namespace: str = "") -> tuple[ObjList, int]:
        """Every object of `resource` (in `namespace`, or all) and the revision of the read."""
        items, rev, _ = await self.list_page(resource, namespace, "", 0)
        return items, rev

    async def list_page(self, resource: str, namespace: str, after: str, limit: int,
                        revision: int = 0) -> tuple[ObjList, int, int]:
        """At most `limit` (0: all) objects after the key `after` ("": the first), read at
        `revision` (0: now); the revision read, how many are left. Gone: compacted."""
        kinds.lookup(resource)
        p = keys.prefix(resource, namespace).encode()
        with self.conn.guard(f"listing {resource}"):
            resp = await (await self.conn.kv()).Range(
                rpc.RangeRequest(key=after.encode() + b"\x00" if after else p,
                                 range_end=keys.prefix_end(p), limit=limit, revision=revision),
                timeout=self.conn.timeout)
        items = [self._decode(kv.value, kv.mod_revision, kv.key) for kv in resp.kvs]
        return items, revision or resp.header.revision, int(resp.count) - len(resp.kvs)

    async def revision(self) -> int:
        return await self.conn.revision()

    # -- writes -----------------------------------------------------------

    async def _txn(self, what: str, compare: Compares, success: Ops,
                   failure: Ops) -> rpc.TxnResponse:
        with self.conn.guard(what):
            return await (await self.conn.kv()).Txn(
                rpc.TxnRequest(compare=compare, success=success, failure=failure),
                timeout=self.conn.timeout)

    async def create(self, obj: api_pb2.Object, *, guard: Guard | None = None) -> api_pb2.Object:
        """Write a new object (AlreadyExists). With `guard`, only if that object is still
        at its resourceVersion (GuardChanged), in the same transaction."""
        kind, m = kinds.of(obj), meta(obj)
        what = describe(kind.resource, m.namespace, m.name)
        key = keys.key_of(obj).encode()
        data = self._encode(obj, what)
        compare = [rpc.Compare(key=key, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL,
                               create_revision=0)]
        failure: Ops = []
        if guard is not None:
            g_res, g_ns, g_name, g_rv = guard
            g_key = keys.key(g_res, g_ns, g_name).encode()
            compare.append(rpc.Compare(key=g_key, target=rpc.Compare.MOD,
                                       result=rpc.Compare.EQUAL,
                                       mod_revision=_parse_rv(g_rv, what)))
            failure = [rpc.RequestOp(request_range=rpc.RangeRequest(key=g_key, keys_only=True))]
        resp = await self._txn(
            f"creating {what}", compare,
            [rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=data))], failure)
        if not resp.succeeded:
            if guard is not None:
                kvs = resp.responses[0].response_range.kvs
                if not kvs or str(kvs[0].mod_revision) != guard[3]:
                    raise GuardChanged(f"{describe(*guard[:3])} changed while creating {what}")
            raise errors.AlreadyExists(f"{what} already exists")
        return self._decode(data, resp.header.revision, key, remember=True)

    async def update(self, obj: api_pb2.Object) -> api_pb2.Object:
        """Write `obj` if its resourceVersion is still current ("" = just must exist)."""
        kind, m = kinds.of(obj), meta(obj)
        what = describe(kind.resource, m.namespace, m.name)
        key = keys.key_of(obj).encode()
        data = self._encode(obj, what)
        if m.resource_version:
            cmp = rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                              mod_revision=_parse_rv(m.resource_version, what))
        else:
            cmp = rpc.Compare(key=key, target=rpc.Compare.CREATE, result=rpc.Compare.GREATER,
                              create_revision=0)
        resp = await self._txn(
            f"updating {what}", [cmp],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=data))],
            [rpc.RequestOp(request_range=rpc.RangeRequest(key=key, keys_only=True))])
        if not resp.succeeded:
            self._precondition_failed(resp, what, m.resource_version)
        return self._decode(data, resp.header.revision, key, remember=True)

    @staticmethod
    def _precondition_failed(resp: rpc.TxnResponse, what: str, rv: str) -> None:
        kvs = resp.responses[0].response_range.kvs
        if not kvs:
            raise errors.NotFound(f"{what} not found")
        raise errors.Conflict(
            f"Operation cannot be fulfilled on {what}: the object has been modified "
            f"(resourceVersion {rv} is now {kvs[0].mod_revision}); "
            "please apply your changes to the latest version and try again")

    async def delete(self, resource: str, namespace: str, name: str, *,
                     resource_version: str = "") -> api_pb2.Object:
        """Remove the key; returns the last state, its resourceVersion the deletion revision."""
        what = describe(resource, namespace, name)
        key = keys.key(resource, namespace, name).encode()
        if resource_version:
            cmp = rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                              mod_revision=_parse_rv(resource_version, what))
        else:
            cmp = rpc.Compare(key=key, target=rpc.Compare.CREATE, result=rpc.Compare.GREATER,
                              create_revision=0)
        resp = await self._txn(
            f"deleting {what}", [cmp],
            [rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key, prev_kv=True))],
            [rpc.RequestOp(request_range=rpc.RangeRequest(key=key, keys_only=True))])
        if not resp.succeeded:
            self._precondition_failed(resp, what, resource_version)
        prev = resp.responses[0].response_delete_range.prev_kvs
        if not prev:
            raise errors.NotFound(f"{what} not found")
        return self._decode(prev[0].value, resp.header.revision, key)

    async def guaranteed_update(
        self, resource: str, namespace: str, name: str,
        mutate: Callable[[api_pb2.Object], Awaitable[api_pb2.Object | None]],
        attempts: int = 20,
    ) -> api_pb2.Object:
        """Read, mutate (None: leave as is), CAS-write; retried on Conflict."""
        for _ in range(attempts):
            cur = await self.get(resource, namespace, name)
            new = await mutate(cur)
            if new is None:
                return cur
            meta(new).resource_version = meta(cur).resource_version
            try:
                return await self.update(new)
            except errors.Conflict:
                continue
        raise errors.Conflict(f"{describe(resource, namespace, name)}: too many concurrent "
                              "updates; try again")

    async def compact(self, revision: int) -> None:
        """Compact etcd's history up to `revision` (maintenance and tests)."""
        with self.conn.guard("compacting"):
            await (await self.conn.kv()).Compact(
                rpc.CompactionRequest(revision=revision, physical=True),
                timeout=self.conn.timeout)

    # -- watch ------------------------------------------------------------

    def fanout(self, resource: str) -> Fanout:
        kinds.lookup(resource)
        f = self._fanouts.get(resource)
        if f is None:
            f = Fanout(self.conn, resource, keys.prefix(resource).encode(),
                       self._decode_event, functools.partial(self._bookmark, resource),
                       history=self.history)
            self._fanouts[resource] = f
        return f

    async def watch(self, resource: str, namespace: str = "",
                    resource_version: str = "") -> AsyncGenerator[StoreEvent, None]:
        """Events after `resource_version` ("" or "0": from now). errors.Gone if compacted,
        or if the store has not reached it (etcd restored from an older snapshot: the
        client's view is newer than the store's, so it must relist, as Kubernetes'
        "too large resource version" makes it).

        Besides ADDED/MODIFIED/DELETED, BOOKMARK events (key "") carry progress.
        """
        fanout = self.fanout(resource)
        if resource_version in ("", "0"):
            after = await self.conn.revision()
        else:
            after = _parse_rv(resource_version, f"watch {resource}")
            if after > fanout.last_seen:          # rarely: ask etcd where it is
                current = await self.conn.revision()
                if after > current:
                    raise errors.Gone(
                        f"too large resource version: {after}, the store is at {current} "
                        f"(restored from a snapshot?); relist and watch again")
        p = keys.prefix(resource, namespace) if namespace else ""
        async for ev in fanout.stream(after):
            if not p or not ev.key or ev.key.startswith(p):
                yield ev

    @property
    def etcd_watch_count(self) -> int:
        """etcd watches this store has open (one per watched resource, plus catch-ups)."""
        return self.conn.open_watches
