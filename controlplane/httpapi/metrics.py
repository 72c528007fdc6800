"""metrics.k8s.io/v1beta1 for `kubectl top`: NodeMetrics and PodMetrics from the agents'
stats (controlplane/apiserver/top.py, the same as the gRPC API's Top; verb `proxy`).

    /apis/metrics.k8s.io/v1beta1/nodes[/<name>]
    /apis/metrics.k8s.io/v1beta1/pods, /apis/metrics.k8s.io/v1beta1/namespaces/<ns>/pods[/<name>]

Usage is the agents' current reading (window "10s", like metrics-server's default).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp

from controlplane import errors
from controlplane.apiserver import top
from controlplane.httpapi.call import House, respond
from controlplane.httpapi.paths import GroupVersion
from proto import labels
from proto.codec import format_timestamp

GV = GroupVersion("metrics.k8s.io", "v1beta1")
RESOURCES = [
    {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
     "verbs": ["get", "list"]},
    {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics",
     "verbs": ["get", "list"]},
]


def _now() -> str:
    ts = Timestamp()
    ts.FromSeconds(int(time.time()))
    return format_timestamp(ts)


def _usage(cpu_nano: int, memory: int) -> dict[str, str]:
    return {"cpu": f"{cpu_nano}n", "memory": f"{memory // 1024}Ki"}


def _item(name: str, namespace: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": _now()}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta, "timestamp": _now(), "window": "10s"}


async def answer(house: House, request: web.Request) -> web.StreamResponse | None:
    prefix = GV.prefix
    if not request.path.startswith(prefix + "/") or request.method != "GET":
        return None
    parts = request.path[len(prefix):].strip("/").split("/")
    namespace = ""
    if len(parts) >= 3 and parts[0] == "namespaces":
        namespace, parts = parts[1], parts[2:]
    if not parts or parts[0] not in ("nodes", "pods") or len(parts) > 2 or \
            (namespace and parts[0] != "pods"):
        raise errors.NotFound("the server could not find the requested resource")
    resource, name = parts[0], (parts[1] if len(parts) == 2 else "")
    house.access.check("proxy", resource, namespace, name)
    selector = request.query.get("labelSelector", "")
    try:
        sel = labels.parse_selector(selector)
    except labels.SelectorError as e:
        raise errors.BadRequest(str(e)) from None
    resp = await top.stats(house.registry, house.agents, resource, namespace, name)
    if resource == "nodes":
        wanted = None
        if selector:
            nodes = await house.registry.list("nodes", "", selector)
            wanted = {n.node.metadata.name for n in nodes.items}
        items = [{**_item(n.name), "usage": _usage(n.cpu_usage_nano_cores,
                                                   n.memory_working_set_bytes)}
                 for n in resp.nodes if wanted is None or n.name in wanted]
        kind = "NodeMetrics"
    else:
        chosen: set[tuple[str, str]] | None = None
        if not sel.empty:
            pods = await house.registry.list("pods", namespace, selector)
            chosen = {(p.pod.metadata.namespace, p.pod.metadata.name) for p in pods.items}
        items = [{**_item(p.name, p.namespace),
                  "containers": [{"name": c.name, "usage": _usage(c.cpu_usage_nano_cores,
                                                                  c.memory_working_set_bytes)}
                                 for c in p.containers]}
                 for p in resp.pods if chosen is None or (p.namespace, p.name) in chosen]
        kind = "PodMetrics"
    if name:
        if not items:
            raise errors.NotFound(f'{resource}.metrics.k8s.io "{name}" not found')
        return respond({"kind": kind, "apiVersion": GV.api_version, **items[0]})
    return respond({"kind": f"{kind}List", "apiVersion": GV.api_version, "metadata": {},
                    "items": items})
