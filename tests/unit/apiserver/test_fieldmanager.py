"""Field paths and ownership of server-side apply, on the schema (no server)."""

from __future__ import annotations

from controlplane.apiserver.fieldmanager import fieldpath
from controlplane.apiserver.fieldmanager.apply import merge
from controlplane.apiserver.fieldmanager.entries import Owners, manager_from
from proto import apps_pb2, core_pb2, service_pb2

POD = core_pb2.Pod.DESCRIPTOR
DEPLOY = apps_pb2.Deployment.DESCRIPTOR
SVC = service_pb2.Service.DESCRIPTOR


def pod() -> dict:
    return {"metadata": {"name": "p", "labels": {"a": "1"}, "finalizers": ["x"]},
            "spec": {"containers": [{"name": "c", "image": "i",
                                     "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                     "command": ["sh"]}]}}


def test_fields_follow_list_types_and_maps() -> None:
    got = fieldpath.fields_of(pod(), POD)
    c = ("f:spec", "f:containers", 'k:{"name":"c"}')
    assert got == {
        ("f:metadata", "f:name"), ("f:metadata", "f:labels", "f:a"),
        ("f:metadata", "f:finalizers", 'v:"x"'),
        (*c, "."), (*c, "f:name"), (*c, "f:image"), (*c, "f:command"),
        (*c, "f:ports", 'k:{"containerPort":80,"protocol":"TCP"}', "."),
        (*c, "f:ports", 'k:{"containerPort":80,"protocol":"TCP"}', "f:containerPort"),
        (*c, "f:ports", 'k:{"containerPort":80,"protocol":"TCP"}', "f:protocol"),
    }
    assert fieldpath.from_fields_v1(fieldpath.to_fields_v1(got)) == got
    assert fieldpath.value_at(pod(), (*c, "f:image")) == "i"
    assert fieldpath.display((*c, "f:image")) == '.spec.containers[name="c"].image'


def test_owned_part_leaves_out_identity_and_status() -> None:
    doc = {"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Running"},
           "metadata": {"name": "p", "uid": "u", "resourceVersion": "3", "labels": {"a": "1"}}}
    assert fieldpath.owned_part(doc, False) == {"metadata": {"labels": {"a": "1"}}}
    assert fieldpath.owned_part(doc, True) == {"status": {"phase": "Running"}}


def test_remove_takes_fields_items_and_values() -> None:
    doc = pod()
    c = ("f:spec", "f:containers", 'k:{"name":"c"}')
    fieldpath.remove(doc, {("f:metadata", "f:labels", "f:a"),
                           ("f:metadata", "f:finalizers", 'v:"x"'), (*c, "f:command")})
    assert doc["metadata"] == {"name": "p", "labels": {}, "finalizers": []}
    assert "command" not in doc["spec"]["containers"][0]
    fieldpath.remove(doc, {(*c, ".")})
    assert doc["spec"]["containers"] == []


def test_list_map_keys_match_exactly() -> None:
    """A key that leaves out one of the list's map keys (kubectl's client-side apply
    migration writes k:{"port":80} for a Service port) names no item whose key has it:
    removing that path removes nothing (Kubernetes compares whole keys)."""
    svc = {"spec": {"ports": [{"port": 80, "protocol": "TCP", "name": "http"}]}}
    partial = ("f:spec", "f:ports", 'k:{"port":80}')
    assert fieldpath.value_at(svc, (*partial, "f:name"), SVC) is fieldpath.MISSING
    fieldpath.remove(svc, {(*partial, "."), (*partial, "f:name"), (*partial, "f:port")}, SVC)
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "name": "http"}]
    whole = ("f:spec", "f:ports", 'k:{"protocol":"TCP","port":80}')     # any key order
    assert fieldpath.value_at(svc, (*whole, "f:name"), SVC) == "http"
    fieldpath.remove(svc, {(*whole, "f:name")}, SVC)
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "TCP"}]


def test_merge_by_list_type() -> None:
    live = {"metadata": {"finalizers": ["a"]},
            "spec": {"strategy": {"type": "RollingUpdate"}, "selector": {
                "matchLabels": {"x": "1"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "old",
                                                      "tty": True}]}}}}
    applied = {"metadata": {"finalizers": ["b"]},
               "spec": {"selector": {"matchLabels": {"y": "2"}},
                        "template": {"spec": {"containers": [
                            {"name": "c", "image": "new"}, {"name": "d", "image": "i"}]}}}}
    out = merge(live, applied, DEPLOY)
    assert out["metadata"]["finalizers"] == ["a", "b"]
    assert out["spec"]["selector"] == {"matchLabels": {"y": "2"}}     # an atomic struct
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "c", "image": "new", "tty": True}, {"name": "d", "image": "i"}]
    assert out["spec"]["strategy"] == {"type": "RollingUpdate"}


def test_an_update_takes_what_it_changed_from_everyone() -> None:
    owners = Owners([])
    old = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}}}
    owners.track_update(None, old, "alice", POD, "v1")
    new = {**old, "metadata": {"name": "p", "labels": {"a": "2", "b": "1"}}}
    owners.track_update(old, new, "bob", POD, "v1")
    by = {e.manager: e.paths for e in owners.entries}
    assert by == {"bob": {("f:metadata", "f:labels", "f:a"),
                          ("f:metadata", "f:labels", "f:b")}}
    assert manager_from("", "kubectl/v1.37.1 (linux/amd64) kubernetes/abc") == "kubectl"
    assert manager_from("mine", "kubectl/v1") == "mine"


def test_a_secrets_string_data_is_owned_as_the_data_it_becomes() -> None:
    from controlplane.apiserver.fieldmanager.entries import track
    from proto import codec

    obj = codec.decode({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                        "stringData": {"user": "admin"}, "data": {"pw": "eA=="}})
    track(None, obj, "kubectl-client-side-apply")
    (entry,) = Owners.of(obj).entries
    assert entry.paths == {("f:data", "f:user"), ("f:data", "f:pw")}
