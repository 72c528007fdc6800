"""`corral describe node|namespace`, and the generic fallback for other kinds."""

from __future__ import annotations

from typing import Any

from corral.printers import table
from corral.printers.describe.sections import (
    Related,
    Writer,
    events_section,
    map_section,
)
from corral.printers.output import encode
from proto import api_pb2, columns, core_pb2, kinds
from proto.columns.humanize import age, is_set, long_date


def describe_node(obj: api_pb2.Object, rel: Related, now: float) -> str:
    n = obj.node
    w = Writer()
    w.kv(0, "Name", n.metadata.name)
    roles = columns.node_roles(n)
    w.kv(0, "Roles", roles)
    map_section(w, 0, "Labels", n.metadata.labels)
    map_section(w, 0, "Annotations", n.metadata.annotations, ": ")
    w.kv(0, "CreationTimestamp", long_date(n.metadata.creation_timestamp))
    if n.spec.taints:
        for i, t in enumerate(n.spec.taints):
            val = f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"
            if i == 0:
                w.kv(0, "Taints", val)
            else:
                w.cont(0, val)
    else:
        w.kv(0, "Taints", "<none>")
    w.kv(0, "Unschedulable", "true" if n.spec.unschedulable else "false")
    if n.status.conditions:
        w.line(0, "Conditions:")
        hdr = ["Type", "Status", "LastHeartbeatTime", "LastTransitionTime", "Reason", "Message"]
        rows = [["----"] * 2 + ["-----------------", "------------------", "------", "-------"]]
        for c in n.status.conditions:
            rows.append([c.type, c.status,
                         long_date(c.last_heartbeat_time) if is_set(c.last_heartbeat_time) else "",
                         long_date(c.last_transition_time)
                         if is_set(c.last_transition_time) else "",
                         c.reason, c.message])
        w.block(1, table.render(hdr, rows))
    w.line(0, "Addresses:")
    for a in n.status.addresses:
        w.kv(1, a.type, a.address)
    for title, m in (("Capacity", n.status.capacity), ("Allocatable", n.status.allocatable)):
        w.line(0, f"{title}:")
        for k, v in sorted(m.items()):
            w.kv(1, k, v)
    info = n.status.node_info
    w.line(0, "System Info:")
    for key, value in (("Machine ID", info.machine_id), ("System UUID", info.system_uuid),
                       ("Boot ID", info.boot_id), ("Kernel Version", info.kernel_version),
                       ("OS Image", info.os_image), ("Operating System", info.operating_system),
                       ("Architecture", info.architecture),
                       ("Container Runtime Version", info.container_runtime_version),
                       ("Kubelet Version", info.kubelet_version)):
        w.kv(1, key, value)
    w.kv(0, "PodCIDR", n.spec.pod_cidr)
    w.kv(0, "PodCIDRs", ",".join(n.spec.pod_cidrs) or n.spec.pod_cidr)
    active = [p for p in rel.pods if p.status.phase not in ("Succeeded", "Failed")]
    w.line(0, f"Non-terminated Pods:          ({len(active)} in total)")
    if active:
        hdr = ["Namespace", "Name", "CPU Requests", "CPU Limits", "Memory Requests",
               "Memory Limits", "Age"]
        rows = [["---------", "----", "------------", "----------", "---------------",
                 "-------------", "---"]]
        for p in active:
            def total(which: str, res: str, pod: core_pb2.Pod = p) -> str:
                vals = [getattr(c.resources, which).get(res, "") for c in pod.spec.containers]
                vals = [v for v in vals if v]
                return "+".join(vals) if vals else "0"
            rows.append([p.metadata.namespace, p.metadata.name, total("requests", "cpu"),
                         total("limits", "cpu"), total("requests", "memory"),
                         total("limits", "memory"), age(p.metadata.creation_timestamp, now)])
        w.block(1, table.render(hdr, rows))
    events_section(w, rel.events, now)
    return w.render()


def describe_namespace(obj: api_pb2.Object, rel: Related, now: float) -> str:
    n = obj.namespace
    w = Writer()
    w.kv(0, "Name", n.metadata.name)
    map_section(w, 0, "Labels", n.metadata.labels)
    map_section(w, 0, "Annotations", n.metadata.annotations, ": ")
    phase = "Terminating" if is_set(n.metadata.deletion_timestamp) else n.status.phase or "Active"
    w.kv(0, "Status", phase)
    w.line(0, "")
    w.line(0, "No resource quota.")
    w.line(0, "")
    w.line(0, "No LimitRange resource.")
    return w.render()


def _generic_fields(w: Writer, level: int, doc: Any) -> None:
    if isinstance(doc, dict):
        for k, v in doc.items():
            key = k[:1].upper() + k[1:]
            if isinstance(v, dict | list) and v:
                w.line(level, key + ":")
                _generic_fields(w, level + 1, v)
            else:
                w.kv(level, key, v if v not in (None, "") else "")
    elif isinstance(doc, list):
        for item in doc:
            if isinstance(item, dict | list):
                _generic_fields(w, level, item)
            else:
                w.line(level, str(item))


def describe_generic(obj: api_pb2.Object, rel: Related, now: float) -> str:
    doc = encode(obj)
    meta = doc.pop("metadata", {})
    w = Writer()
    k = kinds.of(obj)
    w.kv(0, "Name", meta.get("name", ""))
    if k.namespaced:
        w.kv(0, "Namespace", meta.get("namespace", ""))
    map_section(w, 0, "Labels", meta.get("labels", {}))
    map_section(w, 0, "Annotations", meta.get("annotations", {}), ": ")
    w.kv(0, "API Version", doc.pop("apiVersion", ""))
    w.kv(0, "Kind", doc.pop("kind", ""))
    _generic_fields(w, 0, doc)
    if k.resource != "events":
        events_section(w, rel.events, now)
    return w.render()
