"""watch on the Kubernetes API: resourceVersion semantics as Kubernetes has them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.integration.kubeapi.conftest import Rest, pod

NS = "/api/v1/namespaces/default"


class Events:
    def __init__(self, api: Rest, **params: str) -> None:
        self.r = api("GET", NS + "/pods", params={"watch": "true", **params}, stream=True)
        assert self.r.status_code == 200, self.r.text
        self.lines = self.r.iter_lines()

    def next(self) -> dict[str, Any]:
        line = next(self.lines)
        while not line:
            line = next(self.lines)
        return json.loads(line)

    def close(self) -> None:
        self.r.close()


def _watch(api: Rest, **params: str) -> Iterator[dict[str, Any]]:
    ev = Events(api, **params)
    try:
        while True:
            yield ev.next()
    finally:
        ev.close()


def test_without_a_version_the_watch_starts_with_what_exists(api: Rest) -> None:
    api.ok("POST", NS + "/pods", pod("w-old", {"w": "a"}))
    stream = _watch(api, labelSelector="w=a")
    first = next(stream)
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "w-old")
    api.ok("POST", NS + "/pods", pod("w-new", {"w": "a"}))
    second = next(stream)
    assert (second["type"], second["object"]["metadata"]["name"]) == ("ADDED", "w-new")
    api.ok("PATCH", NS + "/pods/w-new", {"metadata": {"labels": {"x": "y"}}},
           content_type="application/merge-patch+json")
    third = next(stream)
    assert third["type"] == "MODIFIED" and third["object"]["metadata"]["labels"]["x"] == "y"
    stream.close()


def test_resuming_from_a_version_sends_only_what_came_after(api: Rest) -> None:
    first = api.ok("POST", NS + "/pods", pod("w-r1", {"w": "b"}))
    rv = first["metadata"]["resourceVersion"]
    api.ok("POST", NS + "/pods", pod("w-r2", {"w": "b"}))
    ev = next(_watch(api, labelSelector="w=b", resourceVersion=rv))
    assert (ev["type"], ev["object"]["metadata"]["name"]) == ("ADDED", "w-r2")


def test_a_compacted_version_answers_410_expired(api: Rest, cp) -> None:
    # leases: no watch of them has started yet, so nothing holds their recent history
    leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "w-c"}, "spec": {"holderIdentity": "a"}}
    old = api.ok("POST", leases, lease)["metadata"]["resourceVersion"]
    for holder in ("b", "c"):
        latest = api.ok("PATCH", leases + "/w-c", {"spec": {"holderIdentity": holder}},
                        content_type="application/merge-patch+json")
    latest = latest["metadata"]["resourceVersion"]
    etcdctl = Path(sys.executable).parent / "etcdctl"
    subprocess.run([str(etcdctl), "--endpoints", f"127.0.0.1:{cp.etcd_ports[0]}", "compact",
                    latest], check=True, capture_output=True)
    r = api("GET", leases, params={"watch": "true", "resourceVersion": old}, stream=True)
    ev = json.loads(next(line for line in r.iter_lines() if line))
    r.close()
    assert ev["type"] == "ERROR"
    assert (ev["object"]["code"], ev["object"]["reason"]) == (410, "Expired")


def test_initial_events_end_with_an_annotated_bookmark(api: Rest) -> None:
    api.ok("POST", NS + "/pods", pod("w-i", {"w": "i"}))
    stream = _watch(api, labelSelector="w=i", sendInitialEvents="true",
                    allowWatchBookmarks="true", resourceVersionMatch="NotOlderThan")
    assert next(stream)["type"] == "ADDED"
    bookmark = next(stream)
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    stream.close()


def test_timeout_seconds_ends_the_stream_and_tables_stream_rows(api: Rest) -> None:
    api.ok("POST", NS + "/pods", pod("w-t", {"w": "t"}))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io"
    r = api("GET", NS + "/pods", params={"watch": "1", "labelSelector": "w=t",
                                         "timeoutSeconds": "1"},
            headers={"Accept": accept}, timeout=20)
    events = [json.loads(line) for line in r.text.splitlines() if line]
    assert len(events) == 1 and events[0]["type"] == "ADDED"
    table = events[0]["object"]
    assert table["kind"] == "Table" and table["rows"][0]["cells"][0] == "w-t"
    assert table["columnDefinitions"][0]["name"] == "Name"
