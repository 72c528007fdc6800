"""What the control loops need from the API: the `Client` Protocol.

The scheduler, the controllers, the informers, the event recorder and the
binder read and write objects only through this interface (as the agent
reaches its runtime only through agent/ports.py). The in-process
`controlplane.apiserver.registry.Registry` implements it (the loops of a
control plane replica use it directly, no gRPC in between); anything else
that implements it -- a client of a remote API server, a fake in a unit
test -- can drive the same loops.

    client.get("pods", "default", "web")             -> Object   (NotFound)
    client.list("pods", "", label_selector="app=web") -> ObjectList (resourceVersion)
    client.watch("pods", resource_version=rv)        -> async iterator of WatchEvent
                                                        (Gone: relist)
    client.create(obj) / update(obj) / update_status(obj) -> the object as stored
    client.delete("pods", "default", "web", grace_period_seconds=0)
    client.bind("default", "web", "node-1", rv, current=obj)
    client.create_all([...]) / bind_all([(pod, node), ...])   one transaction, all or none

Every method raises only `controlplane.errors.ApiError` subclasses (NotFound,
AlreadyExists, Conflict, Gone, BadRequest, Invalid, Unavailable, ...); the
semantics (compare-and-swap on metadata.resourceVersion, status kept by
update, two-phase deletion) are those of docs/internals.md, "Registry".
Resources are named by their lowercase plural (`pods`, `replicasets`, ...).

A client that cannot write several objects in one transaction answers
`create_all`/`bind_all` with `errors.BadRequest`; the callers then write one
object at a time.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Protocol

from proto import api_pb2

Object = api_pb2.Object


class Client(Protocol):
    # -- reads --------------------------------------------------------------
    async def get(self, resource: str, namespace: str, name: str) -> Object: ...

    async def list(self, resource: str, namespace: str = "", label_selector: str = "",
                   field_selector: str = "") -> api_pb2.ObjectList: ...

    def watch(self, resource: str, namespace: str = "", label_selector: str = "",
              field_selector: str = "", resource_version: str = "",
              ) -> AsyncGenerator[api_pb2.WatchEvent, None]:
        """Events after `resource_version` ("" or "0": from now); errors.Gone when that
        version was compacted away (list again)."""
        ...

    # -- writes -------------------------------------------------------------
    async def create(self, obj: Object) -> Object: ...

    async def update(self, obj: Object) -> Object:
        """Compare-and-swap on metadata.resourceVersion ("" = unconditional); status is
        kept from the stored object."""
        ...

    async def update_status(self, obj: Object) -> Object:
        """Only .status changes; compare-and-swap as `update`."""
        ...

    async def delete(self, resource: str, namespace: str, name: str, *,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str = "Background",
                     resource_version: str = "") -> Object: ...

    async def bind(self, namespace: str, name: str, node_name: str,
                   resource_version: str = "", *, current: Object | None = None) -> Object:
        """Set a pod's spec.nodeName (compare-and-swap on resource_version if given);
        `current`: the pod as the caller last saw it (saves a read)."""
        ...

    # -- batches: one transaction, all or none --------------------------------
    async def create_all(self, objs: Sequence[Object]) -> Sequence[Object]:
        """Named objects; AlreadyExists or Conflict if any could not be created."""
        ...

    async def bind_all(self, items: Sequence[tuple[Object, str]]) -> Sequence[Object]:
        """(pod as last seen, node) pairs, every pod compare-and-swap on its
        resourceVersion; Conflict if any changed."""
        ...
