"""Typed helpers on an `api_pb2.Object` envelope, shared by the store, the API
server and the loops (pure functions on the schema, no I/O)."""

from __future__ import annotations

from typing import cast

from google.protobuf.timestamp_pb2 import Timestamp

from proto import api_pb2, kinds, meta_pb2

Object = api_pb2.Object


def meta_of(obj: Object) -> meta_pb2.ObjectMeta:
    """The ObjectMeta of the message inside (every kind has one)."""
    return cast(meta_pb2.ObjectMeta, kinds.unwrap(obj).metadata)  # type: ignore[attr-defined]


def copy_of(obj: Object) -> Object:
    out = Object()
    out.CopyFrom(obj)
    return out


def describe(resource: str, namespace: str, name: str) -> str:
    """How errors name an object: 'Pod "default/web"', 'Node "node-1"'."""
    kind = kinds.lookup(resource)
    where = f'"{namespace}/{name}"' if kind.namespaced else f'"{name}"'
    return f"{kind.kind} {where}"


def reference_of(obj: Object) -> meta_pb2.ObjectReference:
    """An ObjectReference to `obj` (an Event's involvedObject)."""
    k, m = kinds.of(obj), meta_of(obj)
    return meta_pb2.ObjectReference(
        kind=k.kind, namespace=m.namespace, name=m.name, uid=m.uid,
        api_version=k.api_version, resource_version=m.resource_version)


def owner_ref_to(obj: Object, *, controller: bool = True,
                 block: bool = True) -> meta_pb2.OwnerReference:
    """An ownerReference to `obj` (controller=true: the one controller of a dependent)."""
    k, m = kinds.of(obj), meta_of(obj)
    return meta_pb2.OwnerReference(api_version=k.api_version, kind=k.kind, name=m.name,
                                   uid=m.uid, controller=controller,
                                   block_owner_deletion=block)


def now_ts() -> Timestamp:
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


def ts_seconds(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9
