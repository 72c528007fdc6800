"""What the encryption keys do to what is stored: which key each stored Secret uses,
a check at start that this control plane can read them all, and re-encryption with
the primary key (after a rotation).

    usage = await key_usage(store, "secrets")          # {"k-...": 12, ...}
    await verify(store, "secrets", ring)               # DecryptError: the wrong key file
    n = await reencrypt(store, "secrets", ring)        # rewritten with ring.primary

These work on the raw etcd values (no decoding into objects): re-encryption
decrypts and encrypts again, compare-and-swap on each key's mod revision, so a
concurrent write (already with the primary key) is never overwritten. A rewrite
changes the object's resourceVersion (watchers see MODIFIED with the same
content), as Kubernetes' `kubectl replace` of every Secret does.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from aetcd import rpc

from controlplane import errors
from controlplane.store import keys
from controlplane.store.encryption import KeyRing, key_name_of
from controlplane.store.etcd_store import Store

log = logging.getLogger(__name__)

UNENCRYPTED = ""      # the key "name" of a value stored without encryption
PAGE = 500


async def _values(store: Store, resource: str) -> list[Any]:
    """Every (key, value, mod_revision) of `resource`, read page by page."""
    start = keys.prefix(resource).encode()
    end = keys.prefix_end(start)
    out: list[Any] = []
    while True:
        with store.conn.guard(f"reading every stored {resource}"):
            resp = await (await store.conn.kv()).Range(
                rpc.RangeRequest(key=start, range_end=end, limit=PAGE),
                timeout=store.conn.timeout)
        out.extend(resp.kvs)
        if not resp.more or not resp.kvs:
            return out
        start = resp.kvs[-1].key + b"\x00"


async def key_usage(store: Store, resource: str) -> Counter[str]:
    """How many stored objects of `resource` each key name encrypts ("" = none)."""
    return Counter(key_name_of(kv.value) or UNENCRYPTED for kv in await _values(store, resource))


async def verify(store: Store, resource: str, ring: KeyRing) -> Counter[str]:
    """Raise encryption.DecryptError unless `ring` decrypts what is stored: every key name in use is
    known, and one value of each decrypts. Returns the usage."""
    seen: dict[str, Any] = {}
    usage: Counter[str] = Counter()
    for kv in await _values(store, resource):
        name = key_name_of(kv.value) or UNENCRYPTED
        usage[name] += 1
        seen.setdefault(name, kv)
    for kv in seen.values():
        ring.from_storage(kv.key, kv.value)
    return usage


async def reencrypt(store: Store, resource: str, ring: KeyRing, passes: int = 5) -> int:
    """Rewrite every stored object of `resource` not encrypted with the primary key.

    A create or update that sealed its value just before the rotation can reach etcd
    after a pass has read past its key, so passes repeat until a read finds nothing
    under another key (writes begun after the rotation already use the primary)."""
    primary = ring.primary.name
    done = 0
    for _ in range(passes):
        stale = [kv for kv in await _values(store, resource)
                 if key_name_of(kv.value) != primary]
        if not stale:
            break
        for kv in stale:
            if await _rewrite(store, ring, kv):
                done += 1
    log.info("re-encrypted %d %s with key %s", done, resource, primary)
    return done


async def _rewrite(store: Store, ring: KeyRing, kv: Any, attempts: int = 10) -> bool:
    key, value, rev = kv.key, kv.value, kv.mod_revision
    for _ in range(attempts):
        if key_name_of(value) == ring.primary.name:
            return False         # written meanwhile, with the primary key
        sealed = ring.to_storage(key, ring.from_storage(key, value))
        cmp = rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                          mod_revision=rev)
        resp = await store._txn(
            f"re-encrypting {key.decode(errors='replace')}", [cmp],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=sealed))],
            [rpc.RequestOp(request_range=rpc.RangeRequest(key=key))])
        if resp.succeeded:
            return True
        kvs = resp.responses[0].response_range.kvs
        if not kvs:
            return False         # deleted meanwhile
        value, rev = kvs[0].value, kvs[0].mod_revision
    raise errors.Conflict(f"{key.decode(errors='replace')}: changed {attempts} times while "
                          "being re-encrypted; run the rotation again")
