"""What the validation tests share: valid manifests and how to poke at them."""

from __future__ import annotations

import copy
from typing import Any

from controlplane.apiserver.defaults import apply_defaults
from controlplane.apiserver.validation import validate
from proto import api_pb2, codec

QUANTITY_RE = "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "labels": {"app": "web"}},
    "spec": {
        "volumes": [{"name": "data", "emptyDir": {}}],
        "containers": [{
            "name": "web", "image": "demo:latest",
            "ports": [{"name": "http", "containerPort": 8080}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                          "requests": {"cpu": "250m", "memory": "64Mi"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "livenessProbe": {"httpGet": {"port": "http"}},
        }],
    },
}

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": copy.deepcopy(POD["spec"])},
    },
}


def build(doc: dict, defaults: bool = True) -> api_pb2.Object:
    o = codec.decode(doc)
    if defaults:
        apply_defaults(o)
    return o


def errors_of(doc: dict, old: dict | None = None) -> dict[str, str]:
    errs = validate(build(doc), build(old) if old is not None else None)
    return {e.path: e.message for e in errs}


def with_(doc: dict, path: str, value: Any) -> dict:
    """A copy of doc with `a.b[0].c` set to value (None deletes)."""
    out = copy.deepcopy(doc)
    cur: Any = out
    parts: list[str | int] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        parts.append(name)
        if rest:
            parts.append(int(rest.rstrip("]")))
    for p in parts[:-1]:
        cur = cur[p]
    if value is None:
        del cur[parts[-1]]
    else:
        cur[parts[-1]] = value
    return out
