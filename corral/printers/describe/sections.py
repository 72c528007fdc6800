"""Shared pieces of `corral describe`: the indenting writer, metadata, the Events timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from corral.printers import table
from proto import apps_pb2, batch_pb2, columns, core_pb2, discovery_pb2, meta_pb2
from proto.columns.humanize import human_duration, is_set, seconds_of


@dataclass
class Related:
    """What describe shows beside the object itself, fetched by the CLI."""

    events: list[core_pb2.Event] = field(default_factory=list)
    replica_sets: list[apps_pb2.ReplicaSet] = field(default_factory=list)   # a deployment's
    pods: list[core_pb2.Pod] = field(default_factory=list)                  # an rs's, a node's
    endpoint_slices: list[discovery_pb2.EndpointSlice] = field(default_factory=list)  # a svc's
    jobs: list[batch_pb2.Job] = field(default_factory=list)                 # a cronjob's


class Writer:
    """Lines of (level, key, value); keys of one level aligned like kubectl's tabwriter."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str, str | None]] = []

    def kv(self, level: int, key: str, value: object = "") -> None:
        self.lines.append((level, key + ":", str(value)))

    def cont(self, level: int, value: object) -> None:
        """A continuation line: the value under the previous one, no key."""
        self.lines.append((level, "", str(value)))

    def line(self, level: int, text: str) -> None:
        self.lines.append((level, text, None))

    def block(self, level: int, text: str) -> None:
        for ln in text.rstrip("\n").split("\n"):
            self.line(level, ln)

    def render(self) -> str:
        width: dict[int, int] = {}
        for level, key, value in self.lines:
            if value is not None and value != "" and key:
                width[level] = max(width.get(level, 0), len(key))
        out = []
        for level, key, value in self.lines:
            indent = "  " * level
            if value is None or value == "":
                out.append(indent + key)
            elif not key:
                out.append(f"{indent}{''.ljust(width.get(level, 0) + 2)}{value}")
            else:
                out.append(f"{indent}{key.ljust(width[level] + 2)}{value}")
        return "\n".join(out) + "\n"


def map_section(w: Writer, level: int, key: str, m: Any, sep: str = "=") -> None:
    items = sorted(m.items())
    if not items:
        w.kv(level, key, "<none>")
        return
    for i, (k, v) in enumerate(items):
        if i == 0:
            w.kv(level, key, f"{k}{sep}{v}")
        else:
            w.cont(level, f"{k}{sep}{v}")


def none(s: object) -> str:
    text = str(s)
    return text if text else "<none>"


def controlled_by(meta: meta_pb2.ObjectMeta) -> str:
    for ref in meta.owner_references:
        if ref.HasField("controller") and ref.controller:
            return f"{ref.kind}/{ref.name}"
    return ""


def common_meta(w: Writer, meta: meta_pb2.ObjectMeta, namespaced: bool) -> None:
    w.kv(0, "Name", meta.name)
    if namespaced:
        w.kv(0, "Namespace", meta.namespace)


def events_section(w: Writer, events: Sequence[core_pb2.Event], now: float) -> None:
    if not events:
        w.kv(0, "Events", "<none>")
        return
    w.line(0, "Events:")
    rows = []
    for ev in sorted(events, key=columns.event_time):
        last = columns.event_time(ev)
        first = seconds_of(ev.first_timestamp) if is_set(ev.first_timestamp) else last
        when = human_duration(now - last) if last else "<unknown>"
        if ev.count > 1 and first:
            when = f"{when} (x{ev.count} over {human_duration(now - first)})"
        source = ev.source.component or ev.reporting_component
        if ev.source.host:
            source = f"{source}, {ev.source.host}" if source else ev.source.host
        rows.append([ev.type or "Normal", ev.reason, when, source, ev.message.strip()])
    hdr = ["Type", "Reason", "Age", "From", "Message"]
    text = table.render(hdr, [["----", "------", "----", "----", "-------"], *rows])
    w.block(1, text)
