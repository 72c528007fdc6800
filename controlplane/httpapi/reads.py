"""get and list: resourceVersion (and resourceVersionMatch), label and field selectors,
limit/continue pages, and Table answers.

What a resourceVersion asks for is the registry's (controlplane/apiserver/readversion.py),
and so are pages (`limit`, `continue`), as for the gRPC door's List
(controlplane/apiserver/paging.py): every page is read at the first page's revision.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from controlplane.httpapi import tables
from controlplane.httpapi.call import Call, dumps, encoded, respond, respond_raw


async def get(call: Call) -> web.StreamResponse:
    t = call.target
    obj = await call.house.registry.get(t.resource, call.namespace, t.name,
                                        call.param("resourceVersion"))
    call.house.access.check("get", t.resource, call.namespace, t.name, obj)
    if call.accepts_table():
        return respond(tables.table([obj], t.resource,
                                    include_object=call.param("includeObject", "Metadata")))
    return respond_raw(encoded(obj))


async def list_(call: Call) -> web.StreamResponse:
    t = call.target
    label_selector, field_selector = call.param("labelSelector"), call.param("fieldSelector")
    call.house.access.check("list", t.resource, call.namespace, field_selector=field_selector)
    lst = await call.house.registry.list(t.resource, call.namespace, label_selector,
                                         field_selector, limit=call.int_param("limit") or 0,
                                         continue_token=call.param("continue"),
                                         resource_version=call.param("resourceVersion"),
                                         resource_version_match=call.param(
                                             "resourceVersionMatch"))
    items, rv, token = list(lst.items), lst.resource_version, lst.continue_token
    if call.accepts_table():
        return respond(tables.table(items, t.resource, resource_version=rv,
                                    include_object=call.param("includeObject", "Metadata"),
                                    continue_token=token))
    meta: dict[str, Any] = {"resourceVersion": rv}
    if token:
        meta["continue"] = token
    if lst.HasField("remaining_item_count"):
        meta["remainingItemCount"] = lst.remaining_item_count
    head = dumps({"kind": f"{t.kind.kind}List", "apiVersion": t.kind.api_version,
                  "metadata": meta})
    return respond_raw(head[:-1] + b',"items":[' + b",".join(encoded(i) for i in items)
                       + b"]}")
