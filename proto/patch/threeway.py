"""The strategic merge patch `kubectl apply` sends: from the configuration applied last
time (the `kubectl.kubernetes.io/last-applied-configuration` annotation) and the new
one, a patch that sets everything the new configuration says and deletes what only the
last one said, leaving fields that others set alone.

    patch = three_way(last_applied, new_config, apps_pb2.Deployment.DESCRIPTOR)
    merged = strategic.apply(live, patch, apps_pb2.Deployment.DESCRIPTOR)

Lists merged by key get `$patch: delete` items, `$setElementOrder/<field>` keeps the
configuration's order, merged sets of scalars get `$deleteFromPrimitiveList/<field>`,
and structs with the retainKeys strategy `$retainKeys` (so `strategy: {type:
Recreate}` clears a defaulted rollingUpdate).
"""

from __future__ import annotations

import json
from typing import Any

import proto.patch.meta as meta
from proto.patch.strategic import DELETE_PRIMITIVE, DIRECTIVE, RETAIN_KEYS, SET_ORDER

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def three_way(last: dict[str, Any] | None, new: dict[str, Any], desc: Any) -> dict[str, Any]:
    return _diff_map(last or {}, new, desc, retain=False)


def last_applied(config: dict[str, Any]) -> str:
    """The annotation's value for `config`, as kubectl writes it (without itself)."""
    doc = json.loads(json.dumps(config))
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    annotations.pop(LAST_APPLIED, None)
    if "metadata" in doc and "annotations" in doc["metadata"] and not annotations:
        del doc["metadata"]["annotations"]
    return json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n"


def _diff_map(last: dict[str, Any], new: dict[str, Any], desc: Any,
              retain: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in new.items():
        before = last.get(k)
        if isinstance(v, dict):
            fm = meta.field_meta(desc, k)
            out[k] = _diff_map(before if isinstance(before, dict) else {}, v,
                               meta.child(desc, k), retain=fm.retains_keys)
        elif isinstance(v, list):
            _diff_list(out, k, before if isinstance(before, list) else [], v, desc)
        else:
            out[k] = v
    for k in last:
        if k not in new:
            out[k] = None
    if retain:
        out[RETAIN_KEYS] = sorted(new)
    return out


def _diff_list(out: dict[str, Any], k: str, before: list[Any], new: list[Any],
               desc: Any) -> None:
    fm = meta.field_meta(desc, k)
    if not fm.merges:
        out[k] = new
        return
    key = fm.merge_key
    if key and all(isinstance(i, dict) for i in new):
        sub = meta.child(desc, k)
        items = []
        for item in new:
            prev = next((b for b in before if isinstance(b, dict) and
                         b.get(key) == item.get(key)), {})
            items.append(_diff_map(prev, item, sub, retain=fm.retains_keys))
        keys = {i.get(key) for i in new}
        items += [{key: b[key], DIRECTIVE: "delete"} for b in before
                  if isinstance(b, dict) and key in b and b[key] not in keys]
        out[k] = items
        out[SET_ORDER + k] = [{key: i.get(key)} for i in new]
        return
    out[k] = new
    gone = [b for b in before if b not in new]
    if gone:
        out[DELETE_PRIMITIVE + k] = gone
    out[SET_ORDER + k] = new
