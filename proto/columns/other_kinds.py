"""The columns of the remaining kinds: namespaces, events, leases, and the generic
NAME/AGE of any other."""

from __future__ import annotations

from proto import api_pb2, core_pb2, kinds
from proto.columns.base import none_if_empty
from proto.columns.humanize import age, human_duration, is_set, seconds_of


def ns_row(obj: api_pb2.Object, now: float) -> list[str]:
    n = obj.namespace
    phase = n.status.phase or "Active"
    if is_set(n.metadata.deletion_timestamp):
        phase = "Terminating"
    return [n.metadata.name, phase, age(n.metadata.creation_timestamp, now)]


def event_time(ev: core_pb2.Event) -> float:
    for ts in (ev.last_timestamp, ev.first_timestamp, ev.metadata.creation_timestamp):
        if is_set(ts):
            return seconds_of(ts)
    return 0.0


def involved(ev: core_pb2.Event) -> str:
    kind = ev.involved_object.kind.lower()
    return f"{kind}/{ev.involved_object.name}" if kind else ev.involved_object.name


def event_row(obj: api_pb2.Object, now: float) -> list[str]:
    e = obj.event
    t = event_time(e)
    last = human_duration(now - t) if t else "<unknown>"
    return [last, e.type or "Normal", e.reason, involved(e), e.message.strip()]


def lease_row(obj: api_pb2.Object, now: float) -> list[str]:
    ls = obj.lease
    return [ls.metadata.name, none_if_empty(ls.spec.holder_identity),
            age(ls.metadata.creation_timestamp, now)]


def generic_row(obj: api_pb2.Object, now: float) -> list[str]:
    meta = kinds.unwrap(obj).metadata  # type: ignore[attr-defined]
    return [meta.name, age(meta.creation_timestamp, now)]
