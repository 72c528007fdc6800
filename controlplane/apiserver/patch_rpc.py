"""`Patch` of the API service: any of the four patch types on one object
(controlplane/apiserver/patching.py; "apply" is server-side apply,
controlplane/apiserver/fieldmanager/apply.py). Takes the ApiService as `svc`;
service.py wraps it with its error boundary (`unary`)."""

from __future__ import annotations

from typing import Protocol

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver import patching
from controlplane.apiserver.access import Access
from controlplane.apiserver.fieldmanager import apply as ssa
from controlplane.apiserver.registry import Registry
from controlplane.rpc import CallContext
from proto import api_pb2


class Service(Protocol):
    registry: Registry
    access: Access


async def patch(svc: Service, request: api_pb2.PatchRequest,
                context: CallContext) -> api_pb2.Object:
    k = o.kind_named(request.resource)
    ns = (request.namespace or "default") if k.namespaced else ""
    if request.subresource not in ("", "status"):
        raise errors.BadRequest(f'patch: no subresource "{request.subresource}"')
    body = patching.parse(request.type, request.patch)
    if request.type == "apply":
        def check_apply(new: api_pb2.Object, old: api_pb2.Object | None) -> None:
            svc.access.check("apply", k.resource, ns, request.name, new, old)

        return await ssa.apply(svc.registry, k.resource, ns, request.name, body,
                               request.field_manager, force=request.force,
                               dry_run=request.dry_run, authorize=check_apply)
    verb = "update_status" if request.subresource == "status" else "update"

    def check(new: api_pb2.Object, old: api_pb2.Object) -> None:
        svc.access.check(verb, k.resource, ns, request.name, new, old)

    return await patching.patch(svc.registry, k.resource, ns, request.name, request.type,
                                body, status=request.subresource == "status",
                                dry_run=request.dry_run, authorize=check)
