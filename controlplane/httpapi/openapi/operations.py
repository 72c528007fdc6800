"""The paths and operations of the OpenAPI documents: for every kind its collection,
object, status and scale paths, with Kubernetes' operation ids, x-kubernetes-action and
x-kubernetes-group-version-kind (kubectl finds `fieldValidation` on a kind's PATCH to
know that the server validates strictly)."""

from __future__ import annotations

from typing import Any

from controlplane.httpapi import paths
from proto import kinds, openapi

Op = dict[str, Any]

QUERY = {
    "dryRun": "When present, indicates that modifications should not be persisted.",
    "fieldManager": "a name associated with the actor or entity that is making these changes",
    "fieldValidation": "instructs the server on how to handle objects in the request "
                       "containing unknown or duplicate fields (Ignore, Warn, Strict)",
    "force": "Force is going to \"force\" Apply requests.",
    "pretty": "If 'true', then the output is pretty printed.",
    "labelSelector": "A selector to restrict the list of returned objects by their labels.",
    "fieldSelector": "A selector to restrict the list of returned objects by their fields.",
    "limit": "limit is a maximum number of responses to return for a list call.",
    "continue": "The continue option should be set when retrieving more results from the "
                "server.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a "
                       "request may be served from.",
    "resourceVersionMatch": "resourceVersionMatch determines how resourceVersion is applied.",
    "watch": "Watch for changes to the described resources.",
    "allowWatchBookmarks": "allowWatchBookmarks requests watch events with type BOOKMARK.",
    "timeoutSeconds": "Timeout for the list/watch call.",
    "sendInitialEvents": "the watch stream begins with synthetic events of the state of all "
                         "objects",
    "gracePeriodSeconds": "The duration in seconds before the object should be deleted.",
    "propagationPolicy": "Whether and how garbage collection will be performed.",
    "orphanDependents": "Deprecated: use propagationPolicy.",
}
_INTEGER = {"limit", "timeoutSeconds", "gracePeriodSeconds"}
_BOOLEAN = {"force", "watch", "allowWatchBookmarks", "sendInitialEvents", "orphanDependents"}
_LIST = ("labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
         "resourceVersionMatch", "watch", "allowWatchBookmarks", "timeoutSeconds",
         "sendInitialEvents")
_WRITE = ("dryRun", "fieldManager", "fieldValidation")
_DELETE = ("dryRun", "gracePeriodSeconds", "propagationPolicy", "orphanDependents")
PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"]


def _camel(group: str) -> str:
    if not group:
        return "Core"
    return "".join(p[:1].upper() + p[1:] for p in group.split(".")[0].split("-"))


def _param(name: str, v3: bool) -> dict[str, Any]:
    t = "integer" if name in _INTEGER else "boolean" if name in _BOOLEAN else "string"
    p: dict[str, Any] = {"name": name, "in": "query", "description": QUERY[name],
                         "uniqueItems": True}
    if v3:
        p["schema"] = {"type": t}
    else:
        p["type"] = t
    return p


def _path_params(namespaced: bool, named: bool, v3: bool) -> list[dict[str, Any]]:
    out = []
    for name, on in (("name", named), ("namespace", namespaced)):
        if on:
            p: dict[str, Any] = {"name": name, "in": "path", "required": True,
                                 "description": f"{name} of the object", "uniqueItems": True}
            if v3:
                p["schema"] = {"type": "string"}
            else:
                p["type"] = "string"
            out.append(p)
    return out


class Builder:
    """Operations of one document: v3 (requestBody/content) or v2 (body parameters)."""

    def __init__(self, v3: bool) -> None:
        self.v3 = v3
        self.prefix = "#/components/schemas/" if v3 else "#/definitions/"

    def ref(self, name: str) -> dict[str, Any]:
        return {"$ref": self.prefix + name}

    def _op(self, k: kinds.Kind, action: str, op_id: str, query: tuple[str, ...],
            response: str, *, body: str = "", body_types: list[str] | None = None,
            sub_kind: dict[str, str] | None = None) -> Op:
        op: Op = {"operationId": op_id, "tags": [k.api_version.replace("/", "_")],
                  "parameters": [_param(q, self.v3) for q in query],
                  "x-kubernetes-action": action,
                  "x-kubernetes-group-version-kind": sub_kind or openapi.gvk(k)}
        types = body_types or ["application/json", "application/yaml"]
        if body:
            if self.v3:
                op["requestBody"] = {"required": True, "content": {
                    t: {"schema": self.ref(body)} for t in types}}
            else:
                op["parameters"].insert(0, {"name": "body", "in": "body", "required": True,
                                            "schema": self.ref(body)})
                op["consumes"] = types
        ok: dict[str, Any] = {"description": "OK"}
        if self.v3:
            ok["content"] = {"application/json": {"schema": self.ref(response)}}
        else:
            ok["schema"] = self.ref(response)
            op["produces"] = ["application/json", "application/yaml"]
        op["responses"] = {"200": ok, "401": {"description": "Unauthorized"}}
        return op

    def kind_paths(self, k: kinds.Kind) -> dict[str, dict[str, Any]]:
        gv = paths.GroupVersion(*k.api_version.rpartition("/")[::2])
        base = f"{gv.prefix}/namespaces/{{namespace}}/{k.resource}" if k.namespaced \
            else f"{gv.prefix}/{k.resource}"
        ns = "Namespaced" if k.namespaced else ""
        ident = f"{_camel(gv.group)}{gv.version.capitalize()}{ns}{k.kind}"
        name = openapi.definition_name(k)
        lst, status = name + "List", "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
        out: dict[str, dict[str, Any]] = {
            base: {"get": self._op(k, "list", f"list{ident}", _LIST, lst),
                   "post": self._op(k, "post", f"create{ident}", _WRITE, name, body=name),
                   "parameters": _path_params(k.namespaced, False, self.v3)},
            f"{base}/{{name}}": {
                "get": self._op(k, "get", f"read{ident}", (), name),
                "put": self._op(k, "put", f"replace{ident}", _WRITE, name, body=name),
                "patch": self._op(k, "patch", f"patch{ident}", (*_WRITE, "force"), name,
                                  body="io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
                                  body_types=PATCH_TYPES),
                "delete": self._op(k, "delete", f"delete{ident}", _DELETE, status),
                "parameters": _path_params(k.namespaced, True, self.v3)},
        }
        if k.resource != "namespaces":
            out[base]["delete"] = self._op(k, "deletecollection", f"deleteCollection{ident}",
                                           (*_DELETE, *_LIST), status)
        if k.namespaced:
            out[f"{gv.prefix}/{k.resource}"] = {
                "get": self._op(k, "list", f"list{ident.replace(ns, '', 1)}ForAllNamespaces",
                                _LIST, lst)}
        for sub in ("status", "scale"):
            if sub in paths.subresources(k):
                out[f"{base}/{{name}}/{sub}"] = self._sub(k, sub, ident, name)
        return out

    def _sub(self, k: kinds.Kind, sub: str, ident: str, name: str) -> dict[str, Any]:
        target = name if sub == "status" else "io.k8s.api.autoscaling.v1.Scale"
        gvk = None if sub == "status" else {"group": "autoscaling", "version": "v1",
                                            "kind": "Scale"}
        cap = sub.capitalize()
        return {
            "get": self._op(k, "get", f"read{ident}{cap}", (), target, sub_kind=gvk),
            "put": self._op(k, "put", f"replace{ident}{cap}", _WRITE, target, body=target,
                            sub_kind=gvk),
            "patch": self._op(k, "patch", f"patch{ident}{cap}", (*_WRITE, "force"), target,
                              body="io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
                              body_types=PATCH_TYPES, sub_kind=gvk),
            "parameters": _path_params(k.namespaced, True, self.v3)}
