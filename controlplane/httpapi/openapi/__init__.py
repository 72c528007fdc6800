"""The OpenAPI documents of the Kubernetes API, generated at start from the same schema
the codec validates with (proto/openapi.py) and the kind table:

    /openapi/v2                 Swagger 2.0, every kind (JSON; not the protobuf form)
    /openapi/v3                 the index: {"paths": {"api/v1": {"serverRelativeURL": ...}}}
    /openapi/v3/api/v1, /openapi/v3/apis/<group>/<version>   OpenAPI 3.0 per group/version

kubectl reads v3: `kubectl explain`, the patch metadata of client-side apply, and
whether PATCH takes `fieldValidation` (then `kubectl apply` validates on the server).
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from aiohttp import web

from controlplane.httpapi import paths
from controlplane.httpapi.openapi.operations import Builder
from proto import kinds, openapi

META = openapi.META
INFO = {"title": "Kubernetes (served by corral)", "version": "v1.37.0"}


def _extra(ref: Any, table: list[kinds.Kind]) -> dict[str, dict[str, Any]]:
    """List kinds, Status, Patch, DeleteOptions and autoscaling/v1 Scale."""
    obj: dict[str, Any] = {"type": "object"}
    string = {"type": "string"}
    out: dict[str, dict[str, Any]] = {
        META + "ListMeta": {"type": "object", "properties": {
            "continue": string, "remainingItemCount": {"type": "integer", "format": "int64"},
            "resourceVersion": string}},
        META + "Status": {"type": "object", "properties": {
            "apiVersion": string, "kind": string, "code": {"type": "integer"},
            "message": string, "reason": string, "status": string,
            "details": obj, "metadata": {"$ref": ref(META + "ListMeta")}},
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status",
                                                 "version": "v1"}]},
        META + "Patch": {"type": "object",
                         "description": "Patch is provided to give a concrete name and type "
                                        "to the Kubernetes PATCH request body."},
        META + "DeleteOptions": {"type": "object", "properties": {
            "apiVersion": string, "kind": string, "dryRun": {"type": "array", "items": string},
            "gracePeriodSeconds": {"type": "integer", "format": "int64"},
            "preconditions": obj, "propagationPolicy": string,
            "orphanDependents": {"type": "boolean"}}},
        "io.k8s.api.autoscaling.v1.Scale": {"type": "object", "properties": {
            "apiVersion": string, "kind": string, "metadata": {"$ref": ref(META + "ObjectMeta")},
            "spec": {"type": "object", "properties": {"replicas": {"type": "integer",
                                                                   "format": "int32"}}},
            "status": {"type": "object", "properties": {
                "replicas": {"type": "integer", "format": "int32"}, "selector": string}}},
            "x-kubernetes-group-version-kind": [{"group": "autoscaling", "kind": "Scale",
                                                 "version": "v1"}]},
    }
    for k in table:
        gvk = openapi.gvk(k)
        out[openapi.definition_name(k) + "List"] = {
            "type": "object", "required": ["items"], "properties": {
                "apiVersion": string, "kind": string,
                "items": {"type": "array", "items": {"$ref": ref(openapi.definition_name(k))}},
                "metadata": {"$ref": ref(META + "ListMeta")}},
            "x-kubernetes-group-version-kind": [{**gvk, "kind": k.kind + "List"}]}
    return out


def _schemas(v3: bool, table: list[kinds.Kind]) -> dict[str, dict[str, Any]]:
    prefix = "#/components/schemas/" if v3 else "#/definitions/"

    def ref(name: str) -> str:
        return prefix + name

    return {**openapi.definitions(table, ref), **_extra(ref, table)}


@functools.cache
def v2() -> bytes:
    b = Builder(v3=False)
    doc_paths: dict[str, Any] = {}
    for k in kinds.KINDS:
        doc_paths.update(b.kind_paths(k))
    doc = {"swagger": "2.0", "info": INFO, "paths": doc_paths,
           "definitions": _schemas(False, list(kinds.KINDS)),
           "securityDefinitions": {"BearerToken": {"type": "apiKey", "name": "authorization",
                                                   "in": "header"}}}
    return json.dumps(doc, separators=(",", ":")).encode()


@functools.cache
def v3(gv: paths.GroupVersion) -> bytes:
    b = Builder(v3=True)
    table = list(kinds.KINDS)          # every schema: references may cross groups
    doc_paths: dict[str, Any] = {}
    for k in paths.kinds_of(gv):
        doc_paths.update(b.kind_paths(k))
    doc = {"openapi": "3.0.0", "info": INFO, "paths": doc_paths,
           "components": {"schemas": _schemas(True, table)}}
    return json.dumps(doc, separators=(",", ":")).encode()


def _hash(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()[:128].upper()


@functools.cache
def v3_index() -> bytes:
    out = {}
    for gv in paths.group_versions():
        key = gv.prefix.lstrip("/")
        out[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={_hash(v3(gv))}"}
    return json.dumps({"paths": out}, separators=(",", ":")).encode()


def _answer(request: web.Request, data: bytes) -> web.Response:
    etag = f'"{_hash(data)}"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    return web.Response(body=data, content_type="application/json",
                        headers={"ETag": etag, "Cache-Control": "no-cache, private"})


async def documents(request: web.Request) -> web.StreamResponse | None:
    path = request.path.rstrip("/")
    if request.method != "GET" or not path.startswith("/openapi/"):
        return None
    if path == "/openapi/v2":
        return _answer(request, v2())
    if path == "/openapi/v3":
        return _answer(request, v3_index())
    if path.startswith("/openapi/v3/"):
        target = paths.parse(path[len("/openapi/v3"):])
        if isinstance(target, paths.GroupVersion):
            return _answer(request, v3(target))
    return None
