"""Binding a pod to a node: the new pod object, from the current one.

``Registry.bind`` writes it with compare-and-swap. A caller that already holds
the pod at the resourceVersion it binds (the scheduler's informer copy) saves
the read: the write is one etcd transaction, and only a lost race re-reads.
`bind_all` binds several such pods in one transaction, all or none.
"""

from __future__ import annotations

from collections.abc import Sequence

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.writer import Writer
from controlplane.store import batch
from proto import api_pb2, core_pb2


def bound(old: api_pb2.Object, node_name: str) -> api_pb2.Object | None:
    """`old` bound to `node_name`; None if it already is; Conflict if it cannot be."""
    pod = old.pod
    namespace, name = pod.metadata.namespace, pod.metadata.name
    if pod.spec.node_name:
        if pod.spec.node_name == node_name:
            return None
        raise errors.Conflict(f'pod "{namespace}/{name}" is already assigned to node '
                              f'"{pod.spec.node_name}"')
    if pod.metadata.HasField("deletion_timestamp"):
        raise errors.Conflict(f'pod "{namespace}/{name}" is being deleted')
    new = o.copy(old)
    new.pod.spec.node_name = node_name
    conds = [c for c in new.pod.status.conditions if c.type != "PodScheduled"]
    cond = core_pb2.PodCondition(type="PodScheduled", status="True")
    cond.last_transition_time.CopyFrom(o.now())
    del new.pod.status.conditions[:]
    new.pod.status.conditions.extend([*conds, cond])
    return new


async def bind(w: Writer, namespace: str, name: str, node_name: str,
               resource_version: str = "", current: api_pb2.Object | None = None
               ) -> api_pb2.Object:
    """``Registry.bind``: one transaction from `current` when it is at resource_version,
    else (or after a lost race) read, check and compare-and-swap."""
    if not node_name:
        raise errors.BadRequest("bind: node name is required")

    async def build(old: api_pb2.Object) -> api_pb2.Object | None:
        return bound(old, node_name)

    if (current is not None and resource_version
            and current.pod.metadata.resource_version == resource_version
            and (current.pod.metadata.namespace, current.pod.metadata.name)
            == (namespace, name)):
        new = bound(current, node_name)
        if new is None:
            return current
        try:
            return await w.store.update(new)
        except errors.Conflict:
            pass  # changed since: the read below says how
    target = api_pb2.Object()
    target.pod.metadata.namespace = namespace
    target.pod.metadata.name = name
    target.pod.metadata.resource_version = resource_version
    return await w.cas_loop(target, build)


async def bind_all(w: Writer, items: Sequence[tuple[api_pb2.Object, str]]
                   ) -> list[api_pb2.Object]:
    """Bind each (pod as last seen, node) in one etcd transaction, every pod CAS on its
    resourceVersion: all or none (Conflict: then bind them one at a time)."""
    new = []
    for current, node in items:
        b = bound(current, node)
        if b is None or not current.pod.metadata.resource_version:
            raise errors.Conflict(f"pod {current.pod.metadata.name!r} cannot be batched")
        new.append(b)
    return await batch.update_all(w.store, new)
