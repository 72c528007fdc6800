"""Subresources that are views or actions: scale (autoscaling/v1 Scale of any kind with
spec.replicas and a selector), pods/eviction (policy/v1 Eviction: `kubectl drain`) and
pods/binding (v1 Binding: a scheduler's bind). Status is the object itself (writes.py,
patching.py).

Scale: GET answers a Scale; PUT and PATCH (any patch type, on the Scale) set
spec.replicas with a compare-and-swap, on the Scale's resourceVersion when it gives one.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.fieldmanager.entries import track
from controlplane.httpapi import status
from controlplane.httpapi.call import Call, respond
from controlplane.httpapi.patching import patch_kind
from controlplane.httpapi.writes import DeleteOptions, delete_one
from proto import api_pb2, columns
from proto.codec import format_timestamp
from proto.patch import PatchError, apply_patch

RETRIES = 10


def scale_of(obj: api_pb2.Object) -> dict[str, Any]:
    typed: Any = o.msg(obj)          # a kind with spec.replicas (paths.scalable)
    m, spec, st = o.meta(obj), typed.spec, typed.status
    meta: dict[str, Any] = {"name": m.name, "uid": m.uid, "resourceVersion": m.resource_version}
    if m.namespace:
        meta["namespace"] = m.namespace
    if m.HasField("creation_timestamp"):
        meta["creationTimestamp"] = format_timestamp(m.creation_timestamp)
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta,
            "spec": {"replicas": spec.replicas if spec.HasField("replicas") else 1},
            "status": {"replicas": st.replicas,
                       "selector": columns.format_selector(spec.selector)}}


async def get_scale(call: Call) -> web.StreamResponse:
    t = call.target
    obj = await call.house.registry.get(t.resource, call.namespace, t.name)
    call.house.access.check("get", t.resource, call.namespace, t.name, obj)
    return respond(scale_of(obj))


async def _set_scale(call: Call, change: Any) -> web.StreamResponse:
    """`change(scale document) -> new scale document`, then write spec.replicas."""
    t = call.target
    for _ in range(RETRIES):
        cur = await call.house.registry.get(t.resource, call.namespace, t.name)
        scale = scale_of(cur)
        new = change(scale)
        replicas = (new.get("spec") or {}).get("replicas")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise errors.Invalid(o.describe(cur), [errors.FieldError(
                "spec.replicas", f"Invalid value: {replicas!r}: must be greater than or "
                                 "equal to 0")])
        want_rv = (new.get("metadata") or {}).get("resourceVersion") or ""
        obj = o.copy(cur)
        typed: Any = o.msg(obj)
        typed.spec.replicas = replicas
        o.meta(obj).resource_version = want_rv or o.meta(cur).resource_version
        call.house.access.check("update", t.resource, call.namespace, t.name, obj, cur)
        track(cur, obj, call.manager, "scale")
        try:
            written = await call.house.registry.update(obj, dry_run=call.dry_run)
        except errors.Conflict:
            if want_rv and want_rv != scale["metadata"]["resourceVersion"]:
                raise
            continue
        return respond(scale_of(written))
    raise errors.Conflict(f"{t.resource} {t.name}: too many concurrent writers; try again")


async def put_scale(call: Call) -> web.StreamResponse:
    body = await call.body()
    if not isinstance(body, dict) or body.get("kind", "Scale") != "Scale":
        raise errors.BadRequest("the body must be an autoscaling/v1 Scale")
    return await _set_scale(call, lambda _scale: body)


async def patch_scale(call: Call) -> web.StreamResponse:
    kind = patch_kind(call)
    if kind == "apply":
        raise status.UnsupportedMediaType("server-side apply of a Scale is not served")
    body = await call.body()

    def change(scale: dict[str, Any]) -> Any:
        try:
            return apply_patch(kind, scale, body, None)
        except PatchError as e:
            raise errors.BadRequest(f"the patch cannot be applied: {e}") from None

    return await _set_scale(call, change)


async def evict(call: Call) -> web.StreamResponse:
    """policy/v1 Eviction: delete the pod with the eviction's DeleteOptions (no
    PodDisruptionBudgets exist in corral, so an eviction is never refused for one)."""
    t = call.target
    body = await call.body()
    if not isinstance(body, dict) or body.get("kind") not in ("Eviction", None):
        raise errors.BadRequest("the body must be a policy/v1 Eviction")
    name = (body.get("metadata") or {}).get("name") or t.name
    if name != t.name:
        raise errors.BadRequest(f"name in URL does not match name in Eviction object "
                                f"({t.name} != {name})")
    opts_doc = body.get("deleteOptions") or {}
    pre = opts_doc.get("preconditions") or {}
    opts = DeleteOptions(opts_doc.get("gracePeriodSeconds"),
                         opts_doc.get("propagationPolicy") or "Background",
                         str(pre.get("uid") or ""), str(pre.get("resourceVersion") or ""),
                         bool(opts_doc.get("dryRun")) or call.dry_run)
    await delete_one(call, t.name, opts)
    return respond(status.success(201), 201)


async def bind(call: Call) -> web.StreamResponse:
    t = call.target
    body = await call.body()
    target = body.get("target") if isinstance(body, dict) else None
    if not isinstance(target, dict) or not target.get("name"):
        raise errors.Invalid(f'Binding "{t.name}"', [errors.FieldError(
            "target.name", "Required value: the node to bind to")])
    if target.get("kind", "Node") != "Node":
        raise errors.BadRequest("a pod binds only to a Node")
    call.house.access.check("bind", "pods", call.namespace, t.name)
    rv = str(((body.get("metadata") or {}).get("resourceVersion")) or "")
    await call.house.registry.bind(call.namespace, t.name, target["name"], rv)
    return respond(status.success(201), 201)
