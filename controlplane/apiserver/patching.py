"""Patching an object, for both doors (the Kubernetes API's PATCH and the `Patch` RPC).

    obj = await patch(registry, "deployments", "web", "web", "strategic",
                      {"spec": {"replicas": 3}}, authorize=check)

The patch (proto/patch/: "json", "merge", "strategic") applies to the stored object in
Kubernetes' JSON form; the result is decoded strictly (an unknown field is an error
naming its path) and written with a compare-and-swap on the resourceVersion read, so a
concurrent write makes it read and patch again. A `metadata.resourceVersion` the patch
sets is a precondition (Conflict when the object has moved on). A patch that changes
nothing writes nothing. `authorize(new, old)` sees the result before it is written.
Server-side apply ("apply") is in controlplane/apiserver/fieldmanager/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.fieldmanager.entries import track
from controlplane.apiserver.registry import Registry
from proto import api_pb2, codec, kinds
from proto.patch import PatchError, apply_patch

Object = api_pb2.Object
Authorize = Callable[[Object, Object], None]
RETRIES = 10


def parse(kind: str, text: str) -> Any:
    """A patch's text: JSON (YAML too for apply, as kubectl --server-side sends)."""
    if kind not in ("json", "merge", "strategic", "apply"):
        raise errors.BadRequest(f'unknown patch type "{kind}": use json, merge, strategic '
                                "or apply")
    try:
        return yaml.safe_load(text) if kind == "apply" else json.loads(text)
    except (ValueError, yaml.YAMLError) as e:
        raise errors.BadRequest(f"the patch is not valid {'YAML' if kind == 'apply' else 'JSON'}"
                                f": {e}") from None


def patched(cur: Object, kind: str, patch: Any) -> Object:
    """`cur` with the patch applied (nothing written); BadRequest when it does not fit."""
    k = kinds.of(cur)
    doc = codec.encode(cur, precise=True, full=True)
    try:
        new_doc = apply_patch(kind, doc, patch, k.message.DESCRIPTOR)
    except PatchError as e:
        raise errors.BadRequest(f"the patch cannot be applied: {e}") from None
    if not isinstance(new_doc, dict):
        raise errors.BadRequest("the patched object is not a JSON object")
    for field, want in (("apiVersion", k.api_version), ("kind", k.kind)):
        if new_doc.get(field) != want:
            raise errors.BadRequest(f"the patch may not change {field} ({want})")
    try:
        new = codec.decode(new_doc)
    except codec.DecodeError as e:
        raise errors.BadRequest(f"{k.kind} in version \"{k.api_version.rpartition('/')[2]}\" "
                                f"cannot be handled as a {k.kind}: strict decoding error: "
                                f"{e}") from None
    m, cm = o.meta(new), o.meta(cur)
    if (m.name, m.namespace) != (cm.name, cm.namespace):
        raise errors.BadRequest(f"the patch may not change metadata.name or "
                                f"metadata.namespace of {o.describe(cur)}")
    return new


async def patch(registry: Registry, resource: str, namespace: str, name: str, kind: str,
                body: Any, *, status: bool = False, dry_run: bool = False,
                authorize: Authorize | None = None, manager: str = "") -> Object:
    for _ in range(RETRIES):
        cur = await registry.get(resource, namespace, name)
        rv = o.meta(cur).resource_version
        new = patched(cur, kind, body)
        wanted_rv = o.meta(new).resource_version
        if wanted_rv != rv:
            raise errors.Conflict(
                f"Operation cannot be fulfilled on {o.describe(cur)}: the object has been "
                f"modified (resourceVersion {wanted_rv} is now {rv}); please apply your "
                "changes to the latest version and try again")
        same = _same(new, cur, status)
        if same:
            return cur
        if manager:   # the fields it changed become its own (metadata.managedFields)
            track(cur, new, manager, "status" if status else "")
        if authorize is not None:
            authorize(new, cur)
        try:
            if status:
                return new if dry_run else await registry.update_status(new)
            return await registry.update(new, dry_run=dry_run)
        except errors.Conflict:
            if _sets_resource_version(body):
                raise
    raise errors.Conflict(f"{resource} {namespace}/{name}: too many concurrent writers; "
                          "try again")


def _same(new: Object, cur: Object, status: bool) -> bool:
    """Whether the patch changed nothing (that a write would keep): compared in JSON form,
    where a message written as {} and one left unset are the same."""
    def doc(obj: Object) -> dict[str, Any]:
        return codec.encode(obj if status else o.body(obj), precise=True, full=True)

    a, b = doc(new), doc(cur)
    return bool(a.get("status") == b.get("status")) if status else a == b


def _sets_resource_version(body: Any) -> bool:
    if isinstance(body, dict):
        return bool((body.get("metadata") or {}).get("resourceVersion"))
    if isinstance(body, list):   # JSON patch
        return any(isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion"
                   for op in body)
    return False
