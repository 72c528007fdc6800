"""create, update (and update of the status), delete and deletecollection.

DeleteOptions come from the body (kind DeleteOptions) or the query: propagationPolicy,
orphanDependents (true = Orphan), gracePeriodSeconds, preconditions (uid,
resourceVersion) and dryRun ["All"].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.fieldmanager.entries import track
from controlplane.httpapi.call import Call, encode, respond
from proto import api_pb2


async def create(call: Call) -> web.StreamResponse:
    if call.target.kind.namespaced and not call.target.namespace:
        raise errors.BadRequest(f"{call.target.resource} are namespaced: create them under "
                                "/namespaces/<namespace>/")
    obj = await call.object()
    await call.house.access.check_write("create", obj)
    track(None, obj, call.manager)
    created = await call.house.registry.create(obj, dry_run=call.dry_run)
    return respond(encode(created), 201)


async def update(call: Call) -> web.StreamResponse:
    obj = await call.object()
    t = call.target
    try:
        cur: api_pb2.Object | None = await call.house.registry.get(t.resource, call.namespace,
                                                                   t.name)
    except errors.NotFound:
        cur = None
    track(cur, obj, call.manager, t.subresource)
    if call.target.subresource == "status":
        await call.house.access.check_write("update_status", obj)
        if call.dry_run:
            raise errors.BadRequest("dryRun is not supported for status updates")
        return respond(encode(await call.house.registry.update_status(obj)))
    await call.house.access.check_write("update", obj)
    return respond(encode(await call.house.registry.update(obj, dry_run=call.dry_run)))


@dataclass(frozen=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str = "Background"
    uid: str = ""
    resource_version: str = ""
    dry_run: bool = False


async def delete_options(call: Call) -> DeleteOptions:
    doc: dict[str, Any] = {}
    if call.request.can_read_body:
        raw = await call.request.read()
        if raw.strip():
            body = await call.body()
            if not isinstance(body, dict):
                raise errors.BadRequest("DeleteOptions must be an object")
            doc = body
    grace = doc.get("gracePeriodSeconds", call.int_param("gracePeriodSeconds"))
    policy = doc.get("propagationPolicy") or call.param("propagationPolicy")
    orphan = doc.get("orphanDependents")
    if orphan is None and call.param("orphanDependents"):
        orphan = call.flag("orphanDependents")
    if not policy and orphan is not None:
        policy = "Orphan" if orphan else "Background"
    pre = doc.get("preconditions") or {}
    dry = doc.get("dryRun") or []
    if dry and dry != ["All"]:
        raise errors.BadRequest(f"dryRun: unsupported value {dry} (only [\"All\"])")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        raise errors.BadRequest("gracePeriodSeconds must be an integer")
    return DeleteOptions(grace, policy or "Background", str(pre.get("uid") or ""),
                         str(pre.get("resourceVersion") or ""), bool(dry) or call.dry_run)


async def delete_one(call: Call, name: str, opts: DeleteOptions) -> api_pb2.Object:
    t, ns = call.target, call.namespace
    await call.house.access.check_delete(t.resource, ns, name, opts.grace_period_seconds)
    rv = opts.resource_version
    if opts.uid:
        cur = await call.house.registry.get(t.resource, ns, name)
        m = o.meta(cur)
        if m.uid != opts.uid:
            raise errors.Conflict(
                f"Precondition failed: UID in precondition: {opts.uid}, UID in object meta: "
                f"{m.uid}")
        rv = rv or m.resource_version
    return await call.house.registry.delete(
        t.resource, ns, name, grace_period_seconds=opts.grace_period_seconds,
        propagation_policy=opts.propagation_policy, resource_version=rv,
        dry_run=opts.dry_run)


async def delete(call: Call) -> web.StreamResponse:
    opts = await delete_options(call)
    gone = await delete_one(call, call.target.name, opts)
    pending = o.meta(gone).HasField("deletion_timestamp") and not opts.dry_run
    return respond(encode(gone), 202 if pending and len(o.meta(gone).finalizers) else 200)


async def delete_collection(call: Call) -> web.StreamResponse:
    t = call.target
    if t.resource == "namespaces":
        raise errors.BadRequest("namespaces cannot be deleted as a collection")
    opts = await delete_options(call)
    labels, fields = call.param("labelSelector"), call.param("fieldSelector")
    call.house.access.check("list", t.resource, call.namespace, field_selector=fields)
    lst = await call.house.registry.list(t.resource, call.namespace, labels, fields)
    deleted = []
    for obj in lst.items:
        try:
            deleted.append(await delete_one(call, o.meta(obj).name, opts))
        except errors.NotFound:
            continue
    return respond({"kind": f"{t.kind.kind}List", "apiVersion": t.kind.api_version,
                    "metadata": {"resourceVersion": lst.resource_version},
                    "items": [encode(d) for d in deleted]})
