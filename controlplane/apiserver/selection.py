"""Label and field selectors on list and watch (proto/labels/ does the parsing).

A filtered watch follows Kubernetes: an object that stops matching is sent
as DELETED (its last matching state, at the new revision), one that starts
matching as ADDED.
"""

from __future__ import annotations

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.store.watch import StoreEvent
from proto import api_pb2, labels


class Filter:
    def __init__(self, resource: str, label_selector: str = "", field_selector: str = "") -> None:
        try:
            self.labels = labels.parse_selector(label_selector)
            self.fields = labels.parse_field_selector(field_selector, resource)
        except labels.SelectorError as e:
            raise errors.BadRequest(str(e)) from None
        self.everything = self.labels.empty and self.fields.empty

    def matches(self, obj: api_pb2.Object) -> bool:
        if self.everything:
            return True
        return self.labels.matches(o.meta(obj).labels) and self.fields.matches(obj)

    def translate(self, ev: StoreEvent) -> api_pb2.WatchEvent | None:
        """The event a watcher with this filter sees, or None."""
        rv = str(ev.revision)
        if self.everything:
            return api_pb2.WatchEvent(type=ev.type, object=ev.object, resource_version=rv)
        now = ev.type != "DELETED" and self.matches(ev.object)
        before = ev.prev is not None and self.matches(ev.prev)
        if ev.type == "DELETED":
            before = self.matches(ev.object)
        if now and (before or (ev.type == "MODIFIED" and ev.prev is None)):
            typ = "ADDED" if ev.type == "ADDED" else "MODIFIED"
            return api_pb2.WatchEvent(type=typ, object=ev.object, resource_version=rv)
        if now:
            return api_pb2.WatchEvent(type="ADDED", object=ev.object, resource_version=rv)
        if before:
            last = o.copy(ev.prev if ev.prev is not None else ev.object)
            o.meta(last).resource_version = rv
            return api_pb2.WatchEvent(type="DELETED", object=last, resource_version=rv)
        return None
