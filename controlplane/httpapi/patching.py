"""PATCH: the patch type from the Content-Type (JSON patch, merge patch, strategic merge
patch, server-side apply), applied by controlplane/apiserver/patching.py (the same code
as the `Patch` RPC) or, for apply, by the field manager."""

from __future__ import annotations

from aiohttp import web

from controlplane.apiserver import patching
from controlplane.apiserver.fieldmanager import apply as ssa
from controlplane.httpapi.call import Call, encode, respond
from controlplane.httpapi.status import UnsupportedMediaType
from proto import api_pb2
from proto.patch import CONTENT_TYPES


def patch_kind(call: Call) -> str:
    ctype = call.request.content_type
    kind = CONTENT_TYPES.get(ctype)
    if kind is None:
        raise UnsupportedMediaType(
            f'the body of the request was in an unknown format - accepted media types '
            f'include: {", ".join(CONTENT_TYPES)} (got "{ctype}")')
    return kind


async def patch(call: Call) -> web.StreamResponse:
    t = call.target
    kind = patch_kind(call)
    status = t.subresource == "status"
    body = await call.body()
    if kind == "apply":
        if status:
            raise UnsupportedMediaType("server-side apply of the status is not served")

        def check_apply(new: api_pb2.Object, old: api_pb2.Object | None) -> None:
            call.house.access.check("apply", t.resource, call.namespace, t.name, new, old)

        applied = await ssa.apply(call.house.registry, t.resource, call.namespace, t.name,
                                  body, call.param("fieldManager"), force=call.flag("force"),
                                  dry_run=call.dry_run, authorize=check_apply)
        return respond(encode(applied))
    verb = "update_status" if status else "update"

    def authorize(new: api_pb2.Object, old: api_pb2.Object) -> None:
        call.house.access.check(verb, t.resource, call.namespace, t.name, new, old)

    obj = await patching.patch(call.house.registry, t.resource, call.namespace, t.name, kind,
                               body, status=status, dry_run=call.dry_run,
                               authorize=authorize, manager=call.manager)
    return respond(encode(obj))
