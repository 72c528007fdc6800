"""How the store turns objects into etcd values and back (the Store's base class,
controlplane/store/etcd_store.py): binary protobuf without metadata.resourceVersion,
through a resource's ValueTransformer (Secrets are encrypted), under etcd's
request limit; decoded values get their revision as resourceVersion, and the ones
known to be what a key holds at a revision are remembered (recent.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from aetcd import rpc

from controlplane import errors
from controlplane.objects import meta_of as meta
from controlplane.store import keys
from controlplane.store.recent import RecentVersions
from controlplane.store.watch import StoreEvent
from proto import api_pb2, kinds

log = logging.getLogger("controlplane.store.etcd_store")

# Resources whose objects never reach etcd unencrypted: a Store without a transformer
# for them refuses to write them (controlplane/store/encryption.py).
ENCRYPTED_RESOURCES = frozenset({"secrets"})

# etcd's default --max-request-bytes is 1.5 MiB; keep room for the request envelope.
MAX_OBJECT_BYTES = 1536 * 1024 - 512


class ValueTransformer(Protocol):
    """What is done to a resource's serialized objects on their way to etcd and back
    (encryption); `etcd_key` is authenticated with the value."""

    def to_storage(self, etcd_key: bytes, plaintext: bytes) -> bytes: ...
    def from_storage(self, etcd_key: bytes, stored: bytes) -> bytes: ...


class ObjectCodec:
    def __init__(self, transformers: Mapping[str, ValueTransformer] | None = None) -> None:
        self.transformers: dict[str, ValueTransformer] = dict(transformers or {})
        self.recent = RecentVersions()

    # -- encoding ---------------------------------------------------------

    def _encode(self, obj: api_pb2.Object, what: str) -> bytes:
        clean = api_pb2.Object()
        clean.CopyFrom(obj)
        meta(clean).resource_version = ""
        data = clean.SerializeToString()
        resource = kinds.of(obj).resource
        transform = self.transformers.get(resource)
        if transform is not None:
            data = transform.to_storage(keys.key_of(obj).encode(), data)
        elif resource in ENCRYPTED_RESOURCES:
            raise errors.ApiError(f"refusing to store {what} unencrypted: this control plane "
                                  "has no encryption key for it")
        if len(data) > MAX_OBJECT_BYTES:
            raise errors.TooLarge(
                f"{what} is too large: {len(data)} bytes encoded, over etcd's request "
                f"limit of {MAX_OBJECT_BYTES} bytes")
        return data

    def _decode(self, data: bytes, revision: int, key: bytes,
                remember: bool = False) -> api_pb2.Object:
        """The object stored at etcd key `key` (decrypted if its resource is); with
        `remember`, `data` is what the key holds at `revision` (self.recent keeps it)."""
        transform = self.transformers.get(keys.resource_of(key)) if self.transformers else None
        if transform is not None:
            data = transform.from_storage(key, data)
        elif remember:
            self.recent.remember(key, revision, data)
        obj = api_pb2.Object.FromString(data)
        meta(obj).resource_version = str(revision)
        return obj

    def _decode_event(self, raw: rpc.Event) -> StoreEvent | None:
        """A watch event; None (skipped, logged) for a value that cannot be decrypted."""
        try:
            return self._decode_raw_event(raw)
        except errors.Undecryptable as e:
            log.error("watch: skipping an event at revision %d: %s", raw.kv.mod_revision, e)
            return None

    def _decode_raw_event(self, raw: rpc.Event) -> StoreEvent:
        key = raw.kv.key.decode()
        rev = raw.kv.mod_revision
        has_prev = raw.HasField("prev_kv")
        if raw.type == rpc.Event.EventType.DELETE:
            prev = self._decode(raw.prev_kv.value, rev, raw.kv.key) if has_prev else None
            obj = prev if prev is not None else self._stub_from_key(key, rev)
            return StoreEvent("DELETED", obj, rev, key, prev)
        obj = self._decode(raw.kv.value, rev, raw.kv.key, remember=True)
        kind = "ADDED" if raw.kv.create_revision == rev else "MODIFIED"
        if not has_prev:
            return StoreEvent(kind, obj, rev, key)
        if self.transformers and keys.resource_of(raw.kv.key) in self.transformers:
            # decrypted now: a value that cannot be is skipped here, not in a watcher
            return StoreEvent(kind, obj, rev, key, self._decode(raw.prev_kv.value, rev,
                                                                raw.kv.key))
        value, etcd_key = raw.prev_kv.value, raw.kv.key
        return StoreEvent(kind, obj, rev, key,
                          load_prev=lambda: self._decode(value, rev, etcd_key))

    @staticmethod
    def _bookmark(resource: str, rev: int) -> api_pb2.Object:
        obj = api_pb2.Object()
        getattr(obj, kinds.lookup(resource).field).metadata.resource_version = str(rev)
        return obj

    @staticmethod
    def _stub_from_key(key: str, rev: int) -> api_pb2.Object:
        parts = key[len(keys.ROOT):].split("/")
        kind = kinds.lookup(parts[0])
        obj = api_pb2.Object()
        m = getattr(obj, kind.field).metadata
        m.name = parts[-1]
        if kind.namespaced:
            m.namespace = parts[1]
        m.resource_version = str(rev)
        return obj
