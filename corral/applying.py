"""`corral apply`'s two ways, as kubectl's:

    obj, result = client_side(client, obj)        # "created" | "configured" | "unchanged"
    obj = server_side(client, obj, "corral", force=False)

Client-side apply keeps the configuration it applied in the annotation
kubectl.kubernetes.io/last-applied-configuration (the same one kubectl writes, so the
two can take turns) and sends a strategic merge patch made from it and the new
configuration (proto/patch/threeway.py): fields others set and the configuration
never mentioned (replicas set by `corral scale`) survive; fields only the last
configuration had go. Server-side apply sends the configuration as an apply patch: the
server merges it by field ownership (metadata.managedFields).
"""

from __future__ import annotations

import json
from typing import Any

from corral import errors
from corral.client import Client
from proto import api_pb2, codec, kinds
from proto.patch import LAST_APPLIED, PatchError, last_applied, strategic_merge, three_way

SERVER_SET = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields",
              "deletionTimestamp", "deletionGracePeriodSeconds")


def configuration(obj: api_pb2.Object) -> dict[str, Any]:
    """The manifest as applied: its JSON form, with the last-applied annotation, without
    the metadata only the server sets (so a `get -o yaml` applies again: kubectl would
    take its resourceVersion for a precondition and fail once the object moved on)."""
    doc = codec.encode(obj, full=False)
    for key in SERVER_SET:
        doc.get("metadata", {}).pop(key, None)
    doc.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = \
        last_applied(doc)
    return doc


def _previous(cur: api_pb2.Object) -> dict[str, Any] | None:
    text = kinds.unwrap(cur).metadata.annotations.get(LAST_APPLIED)  # type: ignore[attr-defined]
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _same(a: api_pb2.Object, b: api_pb2.Object) -> bool:
    """Equal but for the status (which an apply never writes)."""
    def doc(obj: api_pb2.Object) -> dict[str, Any]:
        out = codec.encode(obj, precise=True, full=True)
        out.pop("status", None)
        return out

    return doc(a) == doc(b)


def client_side(client: Client, obj: api_pb2.Object, dry_run: bool = False,
                ) -> tuple[api_pb2.Object, str]:
    k = kinds.of(obj)
    m = kinds.unwrap(obj).metadata  # type: ignore[attr-defined]
    modified = configuration(obj)
    try:
        cur = client.get(k.resource, m.name, m.namespace)
    except errors.NotFound:
        return client.create(codec.decode(modified), dry_run=dry_run), "created"
    desc = k.message.DESCRIPTOR
    patch = three_way(_previous(cur), modified, desc)
    try:
        merged = codec.decode(strategic_merge(codec.encode(cur, precise=True), patch, desc))
        if _same(merged, cur):
            return cur, "unchanged"
    except (PatchError, codec.DecodeError):
        pass     # the server says what is wrong
    out = client.patch(k.resource, m.name, m.namespace, "strategic", json.dumps(patch),
                       dry_run=dry_run)
    return out, "configured"


def server_side(client: Client, obj: api_pb2.Object, field_manager: str, *,
                force: bool = False, dry_run: bool = False) -> api_pb2.Object:
    k = kinds.of(obj)
    m = kinds.unwrap(obj).metadata  # type: ignore[attr-defined]
    config = codec.encode(obj, full=False)
    return client.patch(k.resource, m.name, m.namespace, "apply", json.dumps(config),
                        field_manager=field_manager, force=force, dry_run=dry_run)
