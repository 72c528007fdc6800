"""watch: a chunked stream of JSON events, one per line, as Kubernetes sends them.

    {"type":"ADDED","object":{...}}
    {"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"42"}}}
    {"type":"ERROR","object":{"kind":"Status",...,"code":410,"reason":"Expired"}}

resourceVersion as Kubernetes has it: unset or "0" starts with a synthetic ADDED event
for every object that exists (read with the same selectors), then the changes after
that list; any other version resumes after it, and one etcd has compacted answers an
ERROR event with 410 Expired (the client relists). `sendInitialEvents=true` sends the
initial ADDED events and then a BOOKMARK annotated "k8s.io/initial-events-end".
`timeoutSeconds` ends the stream; `allowWatchBookmarks` passes the store's progress on.
With a Table Accept header, every event's object is a one-row Table.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from controlplane import errors
from controlplane.httpapi import status, tables
from controlplane.httpapi.call import Call, dumps, encoded
from proto import api_pb2

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


async def watch(call: Call) -> web.StreamResponse:
    t = call.target
    labels, fields = call.param("labelSelector"), call.param("fieldSelector")
    call.house.access.check("watch", t.resource, call.namespace, field_selector=fields)
    rv = call.param("resourceVersion")
    send_initial = call.param("sendInitialEvents")
    initial = send_initial == "true" or (send_initial == "" and rv in ("", "0"))
    bookmarks = call.flag("allowWatchBookmarks")
    timeout = call.int_param("timeoutSeconds")
    if initial and send_initial == "true" and not bookmarks:
        raise errors.BadRequest("sendInitialEvents requires allowWatchBookmarks=true")
    as_table = call.accepts_table()
    include = call.param("includeObject", "Metadata")

    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(call.request)
    first_table = True

    def frame(kind: str, obj: api_pb2.Object | dict[str, Any]) -> bytes:
        nonlocal first_table
        if isinstance(obj, dict):
            data = dumps(obj)
        elif as_table and kind != "BOOKMARK":
            data = dumps(tables.table([obj], t.resource, include_object=include,
                                      headers=first_table))
            first_table = False
        else:
            data = encoded(obj)
        return b'{"type":"' + kind.encode() + b'","object":' + data + b"}\n"

    async def events() -> AsyncIterator[bytes]:
        start = rv
        if initial:
            lst = await call.house.registry.list(t.resource, call.namespace, labels, fields)
            for obj in lst.items:
                yield frame("ADDED", obj)
            start = lst.resource_version
            if send_initial == "true":
                yield frame("BOOKMARK", _bookmark(call, start, end_of_initial=True))
        stream = call.house.registry.watch(t.resource, call.namespace, labels, fields, start,
                                           allow_bookmarks=bookmarks)
        try:
            async for ev in stream:
                if ev.type == "BOOKMARK":
                    yield frame("BOOKMARK", _bookmark(call, ev.resource_version))
                else:
                    yield frame(ev.type, ev.object)
        finally:
            await stream.aclose()

    async def pump() -> None:
        try:
            async for chunk in events():
                await resp.write(chunk)
        except errors.ApiError as e:
            _code, doc = status.status_of(e, call.subject)
            await resp.write(dumps({"type": "ERROR", "object": doc}) + b"\n")

    with contextlib.suppress(ConnectionResetError, TimeoutError):
        if timeout is not None and timeout > 0:
            await asyncio.wait_for(pump(), timeout)
        else:
            await pump()
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp


def _bookmark(call: Call, rv: str, *, end_of_initial: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": rv}
    if end_of_initial:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    k = call.target.kind
    return {"kind": k.kind, "apiVersion": k.api_version, "metadata": meta}
