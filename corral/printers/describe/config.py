"""`corral describe configmap|secret` as kubectl prints them: a ConfigMap's values, a
Secret's keys with their sizes only (never a value)."""

from __future__ import annotations

from corral.printers.describe.sections import Related, Writer, events_section, map_section
from proto import api_pb2, meta_pb2


def _head(w: Writer, meta: meta_pb2.ObjectMeta) -> None:
    w.kv(0, "Name", meta.name)
    w.kv(0, "Namespace", meta.namespace)
    map_section(w, 0, "Labels", meta.labels)
    map_section(w, 0, "Annotations", meta.annotations, ": ")


def describe_configmap(obj: api_pb2.Object, rel: Related, now: float) -> str:
    cm = obj.config_map
    w = Writer()
    _head(w, cm.metadata)
    w.line(0, "")
    w.line(0, "Data")
    w.line(0, "====")
    for key in sorted(cm.data):
        w.line(0, f"{key}:")
        w.line(0, "----")
        w.block(0, cm.data[key] or " ")
        w.line(0, "")
    w.line(0, "")
    w.line(0, "BinaryData")
    w.line(0, "====")
    for key in sorted(cm.binary_data):
        w.kv(0, key, f"{len(cm.binary_data[key])} bytes")
    w.line(0, "")
    events_section(w, rel.events, now)
    return w.render()


def describe_secret(obj: api_pb2.Object, rel: Related, now: float) -> str:
    s = obj.secret
    w = Writer()
    _head(w, s.metadata)
    w.line(0, "")
    w.kv(0, "Type", s.type or "Opaque")
    w.line(0, "")
    w.line(0, "Data")
    w.line(0, "====")
    for key in sorted(s.data):
        w.kv(0, key, f"{len(s.data[key])} bytes")
    if s.HasField("immutable") and s.immutable:
        w.line(0, "")
        w.kv(0, "Immutable", "true")
    w.line(0, "")
    events_section(w, rel.events, now)
    return w.render()
