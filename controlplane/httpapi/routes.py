"""Which handler answers a request: discovery, health and OpenAPI by path, then objects
and their subresources by method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from controlplane import errors
from controlplane.httpapi import discovery, paths, reads, watch, writes
from controlplane.httpapi.call import Call, dumps, respond
from controlplane.httpapi.status import MethodNotAllowed

Handler = Callable[[Call], Awaitable[web.StreamResponse]]
# a request -> the document at its path (OpenAPI), or None: not one of them
Documents = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


def _not_allowed(call: Call) -> errors.ApiError:
    t = call.target
    what = f"{t.resource}/{t.subresource}" if t.subresource else t.resource
    return MethodNotAllowed(f"the server does not allow this method on the requested "
                            f"resource ({call.request.method} {what})")


def object_handler(call: Call, extra: dict[str, dict[str, Handler]]) -> Handler:
    """The handler for `call`'s method on its target; `extra`: subresource -> method ->
    handler (patch, scale, log, exec, ...) from the rooms that serve them."""
    t, method = call.target, call.request.method
    if t.subresource and t.subresource != "status":
        by_method = extra.get(t.subresource, {})
        if method in by_method:
            return by_method[method]
        raise _not_allowed(call)
    if t.subresource == "status":
        table: dict[str, Handler] = {"GET": reads.get, "PUT": writes.update}
        if "PATCH" in extra.get("", {}):
            table["PATCH"] = extra[""]["PATCH"]
        if method in table:
            return table[method]
        raise _not_allowed(call)
    if t.watch or (method == "GET" and call.flag("watch")):
        if method != "GET":
            raise _not_allowed(call)
        return watch.watch
    if t.name:
        named: dict[str, Handler] = {"GET": reads.get, "PUT": writes.update,
                                     "DELETE": writes.delete, **extra.get("", {})}
        if method in named:
            return named[method]
        raise _not_allowed(call)
    collection: dict[str, Handler] = {"GET": reads.list_, "POST": writes.create,
                                      "DELETE": writes.delete_collection}
    if method in collection:
        return collection[method]
    raise _not_allowed(call)


def discovery_answer(path: str, accept: str, server_address: str, corral_version: str,
                     hidden: frozenset[str] = frozenset()) -> web.Response | None:
    """/api, /apis, /apis/<group>, /api/v1, /apis/<g>/<v>, /version; None: not one.
    `hidden`: subresources not served here, left out of the resource lists."""
    parts = [p for p in path.split("/") if p]
    aggregated = "as=APIGroupDiscoveryList" in accept
    if parts == ["api"]:
        if aggregated:
            return _aggregated(discovery.aggregated(core=True, hidden=hidden))
        return respond(discovery.api_versions(server_address))
    if parts == ["apis"]:
        if aggregated:
            return _aggregated(discovery.aggregated(core=False, hidden=hidden))
        return respond(discovery.group_list())
    if len(parts) == 2 and parts[0] == "apis":
        g = discovery.group(parts[1])
        return respond(g) if g is not None else None
    if parts == ["version"]:
        return respond(discovery.version_info(corral_version))
    target = paths.parse(path)
    if isinstance(target, paths.GroupVersion):
        return respond(discovery.resource_list(target, hidden))
    if path.rstrip("/") == discovery.metrics.GV.prefix:
        return respond(discovery.resource_list(discovery.metrics.GV))
    return None


def _aggregated(doc: object) -> web.Response:
    return web.Response(body=dumps(doc), headers={"Content-Type": discovery.AGGREGATED})
