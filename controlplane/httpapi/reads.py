"""get and list: label and field selectors, limit/continue pages, and Table answers.

A page's `continue` token carries the list's resourceVersion and the key of its last
object; the next page lists again and goes on after that key (unlike Kubernetes, later
pages are read at the current revision, not the first page's snapshot).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from controlplane import errors
from controlplane.httpapi import tables
from controlplane.httpapi.call import Call, dumps, encoded, respond, respond_raw
from proto import api_pb2, kinds


async def get(call: Call) -> web.StreamResponse:
    t = call.target
    obj = await call.house.registry.get(t.resource, call.namespace, t.name)
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
                                         field_selector)
    items, rv, token, remaining = page(list(lst.items), lst.resource_version,
                                       call.int_param("limit"), call.param("continue"))
    if call.accepts_table():
        return respond(tables.table(items, t.resource, resource_version=rv,
                                    include_object=call.param("includeObject", "Metadata"),
                                    continue_token=token))
    meta: dict[str, Any] = {"resourceVersion": rv}
    if token:
        meta["continue"] = token
        meta["remainingItemCount"] = remaining
    head = dumps({"kind": f"{t.kind.kind}List", "apiVersion": t.kind.api_version,
                  "metadata": meta})
    return respond_raw(head[:-1] + b',"items":[' + b",".join(encoded(i) for i in items)
                       + b"]}")


def page(items: list[api_pb2.Object], rv: str, limit: int | None, token: str,
         ) -> tuple[list[api_pb2.Object], str, str, int]:
    """(this page's items, the list's resourceVersion, the next token or "", remaining)."""
    if token:
        rv, after = _read_token(token)
        items = [i for i in items if kinds.key_of(i) > after]
    if limit is None or limit <= 0 or len(items) <= limit:
        return items, rv, "", 0
    head = items[:limit]
    return head, rv, _token(rv, kinds.key_of(head[-1])), len(items) - limit


def _token(rv: str, after: str) -> str:
    raw = json.dumps({"v": 1, "rv": rv, "start": after}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = json.loads(raw)
        return str(doc["rv"]), str(doc["start"])
    except (ValueError, KeyError, TypeError):
        raise errors.BadRequest(f'continue key is not valid: "{token}"') from None
