"""Many objects in one etcd transaction: new ones (``Registry.create_all``: Events)
or updated ones (``Registry.bind_all``: the scheduler's binds).

All or nothing: if any key exists already, or a guard object moved (see
``Store.create``'s guard), nothing is written and AlreadyExists / GuardChanged
says which; the caller then creates one at a time. etcd refuses transactions
with more than 128 compares (its --max-txn-ops default), so a batch is kept
under that with MAX_BATCH objects plus their guards.
"""

from __future__ import annotations

from collections.abc import Sequence

from aetcd import rpc

from controlplane import errors
from controlplane.objects import describe
from controlplane.objects import meta_of as meta
from controlplane.store import keys
from controlplane.store.etcd_store import Guard, GuardChanged, Store
from proto import api_pb2, kinds

MAX_BATCH = 64


async def create_all(store: Store, objs: Sequence[api_pb2.Object],
                     guards: Sequence[Guard] = ()) -> list[api_pb2.Object]:
    """Create every object of `objs` (at most MAX_BATCH) at one revision, or none."""
    if len(objs) > MAX_BATCH or len(guards) > MAX_BATCH:
        raise errors.BadRequest(f"at most {MAX_BATCH} objects in one batch")
    compare, puts, datas = [], [], []
    for obj in objs:
        kind, m = kinds.of(obj), meta(obj)
        key = keys.key_of(obj).encode()
        data = store._encode(obj, describe(kind.resource, m.namespace, m.name))
        datas.append((data, key))
        compare.append(rpc.Compare(key=key, target=rpc.Compare.CREATE,
                                   result=rpc.Compare.EQUAL, create_revision=0))
        puts.append(rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=data)))
    for resource, namespace, name, rv in guards:
        compare.append(rpc.Compare(key=keys.key(resource, namespace, name).encode(),
                                   target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                                   mod_revision=int(rv)))
    checks = [rpc.RequestOp(request_range=rpc.RangeRequest(
        key=keys.key(*g[:3]).encode(), keys_only=True)) for g in guards]
    resp = await store._txn(f"creating {len(objs)} objects", compare, puts, checks)
    if not resp.succeeded:
        for g, r in zip(guards, resp.responses, strict=True):
            kvs = r.response_range.kvs
            if not kvs or str(kvs[0].mod_revision) != g[3]:
                raise GuardChanged(f"{describe(*g[:3])} changed")
        raise errors.AlreadyExists("one of the objects exists already")
    return [store._decode(d, resp.header.revision, k, remember=True) for d, k in datas]


async def update_all(store: Store, objs: Sequence[api_pb2.Object]) -> list[api_pb2.Object]:
    """Write every object of `objs` (at most MAX_BATCH), each compare-and-swap on its
    metadata.resourceVersion, at one revision; or none (Conflict)."""
    if len(objs) > MAX_BATCH:
        raise errors.BadRequest(f"at most {MAX_BATCH} objects in one batch")
    compare, puts, datas = [], [], []
    for obj in objs:
        kind, m = kinds.of(obj), meta(obj)
        what = describe(kind.resource, m.namespace, m.name)
        if not m.resource_version:
            raise errors.BadRequest(f"{what}: a batched update needs a resourceVersion")
        key = keys.key_of(obj).encode()
        data = store._encode(obj, what)
        datas.append((data, key))
        compare.append(rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                                   mod_revision=int(m.resource_version)))
        puts.append(rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=data)))
    resp = await store._txn(f"updating {len(objs)} objects", compare, puts, [])
    if not resp.succeeded:
        raise errors.Conflict("one of the objects has been modified")
    return [store._decode(d, resp.header.revision, k, remember=True) for d, k in datas]
