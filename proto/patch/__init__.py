"""Patches of objects in Kubernetes' JSON form, shared by the control plane (the
Kubernetes API's PATCH, corral's Patch RPC) and the CLI (`corral apply`, `corral patch`).

    strategic.apply(doc, patch, desc)      strategic merge patch (meta.py: merge keys)
    threeway.three_way(last, new, desc)    the patch `kubectl apply` sends
    jsonpatch.json_patch(doc, ops)         RFC 6902
    jsonpatch.merge_patch(doc, patch)      RFC 7386
    apply_patch(kind, doc, patch, desc)    by Content-Type kind: "json", "merge", "strategic"

Errors: PatchError (a ValueError with the path of the problem).
"""

from __future__ import annotations

from typing import Any

from proto.patch.jsonpatch import json_patch, merge_patch
from proto.patch.strategic import PatchError
from proto.patch.strategic import apply as strategic_merge
from proto.patch.threeway import LAST_APPLIED, last_applied, three_way

# Content-Type of a PATCH -> its kind
CONTENT_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply",
}


def apply_patch(kind: str, doc: dict[str, Any], patch: Any, desc: Any) -> Any:
    if kind == "json":
        return json_patch(doc, patch)
    if kind == "merge":
        if not isinstance(patch, dict):
            raise PatchError("", "a merge patch must be a JSON object")
        return merge_patch(doc, patch)
    if kind == "strategic":
        return strategic_merge(doc, patch, desc)
    raise PatchError("", f'unknown patch type "{kind}"')


__all__ = ["CONTENT_TYPES", "LAST_APPLIED", "PatchError", "apply_patch", "json_patch",
           "last_applied", "merge_patch", "strategic_merge", "three_way"]
