"""``Registry.create_all``: named objects created in one etcd transaction.

Each object is defaulted and validated as by ``Registry.create``; the
namespaces they go into are guarded at the versions ``OpenNamespaces`` saw
them open, in the same transaction. All or nothing: AlreadyExists if a name
is taken, Conflict (GuardChanged) if a namespace changed meanwhile (its
cached version is dropped), and the caller creates one at a time. The event
recorder uses it: a scheduler binding hundreds of pods a second writes its
"Scheduled" events in a few transactions instead of one each.
"""

from __future__ import annotations

from collections.abc import Sequence

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.writer import Writer
from controlplane.store import batch
from controlplane.store.etcd_store import Guard, GuardChanged
from proto import api_pb2


async def create_all(w: Writer, objs: Sequence[api_pb2.Object]) -> list[api_pb2.Object]:
    if len(objs) > batch.MAX_BATCH:
        raise errors.BadRequest(f"at most {batch.MAX_BATCH} objects at once")
    ready: list[api_pb2.Object] = []
    namespaces: set[str] = set()
    for obj in objs:
        kind, new, generated = w.prepare_create(obj)
        if generated:
            raise errors.BadRequest("create_all needs named objects (no generateName)")
        if kind.namespaced:
            namespaces.add(o.meta(new).namespace)
        ready.append(new)
    guards: list[Guard] = [("namespaces", "", ns, await w.open_namespaces.version(ns))
                           for ns in sorted(namespaces)]
    try:
        return await batch.create_all(w.store, ready, guards)
    except GuardChanged:
        for ns in namespaces:
            w.open_namespaces.forget(ns)
        raise
