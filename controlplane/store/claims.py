"""Writes that also claim or release plain etcd keys, in one transaction.

A Service's cluster IP and node ports are claimed as keys beside it
(`/corral/allocations/<pool>/<value>`, the value naming the owner). The
object and its claims are written together, or nothing is: a claim is put only
if its key does not exist yet (etcd compare on create_revision 0), a release
deletes a key only while it still names the same owner. So one address is
never handed out twice, and a control-plane crash can never leave a claim
without its object (or an object without its claims).

    await create_claiming(store, obj, guard, claims=[Claim(key, owner)])
    await update_claiming(store, obj, claims=[...], releases=[...])
    await delete_releasing(store, "services", ns, name, rv, releases=[...])
    taken = await claimed(store, prefix)     # {key suffix: owner}
    names = await claimed_keys(store, prefix)   # {key suffix}

A claim that is taken raises `Claimed` (a Conflict naming the key); the
object's own preconditions fail as in Store (AlreadyExists, Conflict,
NotFound, GuardChanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aetcd import rpc

from controlplane import errors
from controlplane.store import keys
from controlplane.store.etcd_store import Guard, GuardChanged, Store, describe, meta
from proto import api_pb2, kinds

ALLOCATIONS = keys.ROOT + "allocations/"


@dataclass(frozen=True)
class Claim:
    key: str        # the full etcd key
    owner: str      # what it is written with: who holds it


class Claimed(errors.Conflict):
    """A key to claim is held already (by someone else, or a concurrent writer)."""

    def __init__(self, key: str, owner: str) -> None:
        super().__init__(f"{key} is already claimed by {owner or 'another writer'}")
        self.key = key
        self.owner = owner


def _claim_ops(claims: Sequence[Claim]) -> tuple[list[Any], list[Any], list[Any]]:
    compare, puts, checks = [], [], []
    for c in claims:
        k = c.key.encode()
        compare.append(rpc.Compare(key=k, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL,
                                   create_revision=0))
        puts.append(rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=c.owner.encode())))
        checks.append(rpc.RequestOp(request_range=rpc.RangeRequest(key=k)))
    return compare, puts, checks


def _release_ops(releases: Sequence[Claim]) -> list[Any]:
    """Deletes that take effect only while the key still names its owner (a nested
    transaction each: a claim someone else holds is never released, and one that is
    gone already does not fail the write)."""
    return [rpc.RequestOp(request_txn=rpc.TxnRequest(
        compare=[rpc.Compare(key=r.key.encode(), target=rpc.Compare.VALUE,
                             result=rpc.Compare.EQUAL, value=r.owner.encode())],
        success=[rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(
            key=r.key.encode()))])) for r in releases]


def _raise_claimed(resp: Any, claims: Sequence[Claim], first: int) -> None:
    for c, r in zip(claims, list(resp.responses)[first:first + len(claims)], strict=False):
        kvs = r.response_range.kvs
        if kvs:
            raise Claimed(c.key, kvs[0].value.decode(errors="replace"))


async def claimed(store: Store, prefix: str) -> dict[str, str]:
    """Every key under `prefix` (suffix after it) and the owner it names."""
    p = prefix.encode()
    with store.conn.guard(f"listing {prefix}"):
        resp = await (await store.conn.kv()).Range(
            rpc.RangeRequest(key=p, range_end=keys.prefix_end(p)), timeout=store.conn.timeout)
    return {kv.key.decode()[len(prefix):]: kv.value.decode(errors="replace") for kv in resp.kvs}


async def claimed_keys(store: Store, prefix: str) -> set[str]:
    """The key suffixes under `prefix`, without their values (cheaper)."""
    p = prefix.encode()
    with store.conn.guard(f"listing {prefix}"):
        resp = await (await store.conn.kv()).Range(
            rpc.RangeRequest(key=p, range_end=keys.prefix_end(p), keys_only=True),
            timeout=store.conn.timeout)
    return {kv.key.decode()[len(prefix):] for kv in resp.kvs}


async def create_claiming(store: Store, obj: api_pb2.Object, guard: Guard | None,
                          claims: Sequence[Claim]) -> api_pb2.Object:
    """Store.create(obj, guard=guard), plus `claims`, at one revision."""
    kind, m = kinds.of(obj), meta(obj)
    what = describe(kind.resource, m.namespace, m.name)
    key = keys.key_of(obj).encode()
    data = store._encode(obj, what)
    compare = [rpc.Compare(key=key, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL,
                           create_revision=0)]
    checks: list[Any] = [rpc.RequestOp(request_range=rpc.RangeRequest(key=key, keys_only=True))]
    if guard is not None:
        g_key = keys.key(*guard[:3]).encode()
        compare.append(rpc.Compare(key=g_key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                                   mod_revision=int(guard[3])))
        checks.append(rpc.RequestOp(request_range=rpc.RangeRequest(key=g_key, keys_only=True)))
    c_cmp, c_puts, c_checks = _claim_ops(claims)
    resp = await store._txn(
        f"creating {what}", compare + c_cmp,
        [rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=data)), *c_puts],
        checks + c_checks)
    if not resp.succeeded:
        if resp.responses[0].response_range.kvs:
            raise errors.AlreadyExists(f"{what} already exists")
        if guard is not None:
            kvs = resp.responses[1].response_range.kvs
            if not kvs or str(kvs[0].mod_revision) != guard[3]:
                raise GuardChanged(f"{describe(*guard[:3])} changed while creating {what}")
        _raise_claimed(resp, claims, len(checks))
        raise errors.Conflict(f"creating {what}: a claim changed meanwhile; try again")
    return store._decode(data, resp.header.revision, key)


async def update_claiming(store: Store, obj: api_pb2.Object, claims: Sequence[Claim],
                          releases: Sequence[Claim]) -> api_pb2.Object:
    """Store.update(obj) (CAS on its resourceVersion), plus `claims` and `releases`."""
    kind, m = kinds.of(obj), meta(obj)
    what = describe(kind.resource, m.namespace, m.name)
    if not m.resource_version:
        raise errors.BadRequest(f"{what}: an update with claims needs a resourceVersion")
    key = keys.key_of(obj).encode()
    data = store._encode(obj, what)
    compare = [rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                           mod_revision=int(m.resource_version))]
    c_cmp, c_puts, c_checks = _claim_ops(claims)
    resp = await store._txn(
        f"updating {what}", compare + c_cmp,
        [rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=data)), *c_puts,
         *_release_ops(releases)],
        [rpc.RequestOp(request_range=rpc.RangeRequest(key=key, keys_only=True)), *c_checks])
    if not resp.succeeded:
        kvs = resp.responses[0].response_range.kvs
        if not kvs:
            raise errors.NotFound(f"{what} not found")
        if str(kvs[0].mod_revision) != m.resource_version:
            raise errors.Conflict(f"Operation cannot be fulfilled on {what}: the object has "
                                  "been modified; please apply your changes to the latest "
                                  "version and try again")
        _raise_claimed(resp, claims, 1)
        raise errors.Conflict(f"updating {what}: a claim changed meanwhile; try again")
    return store._decode(data, resp.header.revision, key)


async def delete_releasing(store: Store, resource: str, namespace: str, name: str,
                           resource_version: str, releases: Sequence[Claim]) -> api_pb2.Object:
    """Store.delete (CAS on `resource_version`), plus `releases`, at one revision."""
    what = describe(resource, namespace, name)
    key = keys.key(resource, namespace, name).encode()
    resp = await store._txn(
        f"deleting {what}",
        [rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                     mod_revision=int(resource_version))],
        [rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key, prev_kv=True)),
         *_release_ops(releases)],
        [rpc.RequestOp(request_range=rpc.RangeRequest(key=key, keys_only=True))])
    if not resp.succeeded:
        if not resp.responses[0].response_range.kvs:
            raise errors.NotFound(f"{what} not found")
        raise errors.Conflict(f"Precondition failed for {what}: it was modified meanwhile")
    prev = resp.responses[0].response_delete_range.prev_kvs
    if not prev:
        raise errors.NotFound(f"{what} not found")
    return store._decode(prev[0].value, resp.header.revision, key)
