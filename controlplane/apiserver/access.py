"""The authorization hook of the API service (none by default: everything allowed).

    ApiService(registry, authorize=fn)

`fn(verb, resource, namespace, name, obj=None, old=None, *, field_selector="",
grace_period_seconds=None) -> None` raises errors.Forbidden (or Unauthenticated)
to refuse. It runs in the RPC's context (so a contextvar set by a server
interceptor, e.g. the caller's identity, is visible). Verbs: get, list, watch,
create, update, update_status, apply, delete, bind, proxy (logs, exec, top,
node images), version, discovery (api-resources).

What it gets: `obj` is the request's object (create, update, update_status,
apply), or for get the object read (checked before it is answered); `old` is
the stored object for update, update_status, apply and delete (None when
absent) — read only when a hook is installed.

ConfigMaps and Secrets (`check_read`, before anything is read): when the hook
refuses a get, list or watch of one object (by name, or a list/watch with the
field selector metadata.name=NAME in a namespace), it is asked again with
`used_by_nodes`: the nodes whose bound pods reference that object
(proto/podrefs.py). So a node reads what its pods use, like Kubernetes' node
authorizer, and callers the hook lets through cost no lookup.
"""

from __future__ import annotations

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.registry import Registry
from controlplane.security.authz import Authorize
from proto import api_pb2, labels, podrefs

__all__ = ["Access", "Authorize"]

POD_SCOPED = frozenset({"configmaps", "secrets"})   # readable by the nodes of their pods


class Access:
    def __init__(self, registry: Registry, authorize: Authorize | None = None) -> None:
        self.registry = registry
        self.authorize = authorize

    def check(self, verb: str, resource: str, namespace: str = "", name: str = "",
              obj: api_pb2.Object | None = None, old: api_pb2.Object | None = None, *,
              field_selector: str = "", grace_period_seconds: int | None = None,
              used_by_nodes: frozenset[str] | None = None) -> None:
        if self.authorize is not None:
            self.authorize(verb, o.kind_named(resource).resource if resource else "",
                           namespace, name, obj, old, field_selector=field_selector,
                           grace_period_seconds=grace_period_seconds,
                           used_by_nodes=used_by_nodes)

    @staticmethod
    def pod_scoped(resource: str) -> bool:
        return bool(resource) and o.kind_named(resource).resource in POD_SCOPED

    async def check_read(self, verb: str, resource: str, namespace: str, name: str = "", *,
                         field_selector: str = "") -> None:
        """get / list / watch of ConfigMaps or Secrets, decided before the read."""
        try:
            self.check(verb, resource, namespace, name, field_selector=field_selector)
        except errors.Forbidden:
            target = name or labels.selected_name(field_selector)
            if self.authorize is None or not namespace or not target:
                raise
            used = await nodes_using(self.registry, o.kind_named(resource).resource,
                                     namespace, target)
            self.check(verb, resource, namespace, name, field_selector=field_selector,
                       used_by_nodes=used)

    async def check_write(self, verb: str, obj: api_pb2.Object) -> None:
        """Check a write of `obj` against its stored version (read only with a hook)."""
        if self.authorize is None:
            return
        kind, m = o.kind_of(obj), o.meta(obj)
        ns = (m.namespace or "default") if kind.namespaced else ""
        old = None
        if m.name:
            try:
                old = await self.registry.get(kind.resource, ns, m.name)
            except errors.NotFound:
                old = None
        self.check(verb, kind.resource, ns, m.name, obj, old)

    async def check_delete(self, resource: str, namespace: str, name: str,
                           grace: int | None) -> None:
        if self.authorize is None:
            return
        try:
            old = await self.registry.get(resource, namespace, name)
        except errors.NotFound:
            old = None
        self.check("delete", resource, namespace, name, None, old,
                   grace_period_seconds=grace)


async def nodes_using(registry: Registry, resource: str, namespace: str,
                      name: str) -> frozenset[str]:
    """The nodes with a bound pod in `namespace` that references `resource` `name`."""
    pods = await registry.list("pods", namespace)
    return frozenset(p.pod.spec.node_name for p in pods.items
                     if p.pod.spec.node_name
                     and name in podrefs.referenced(p.pod.spec).of(resource))
