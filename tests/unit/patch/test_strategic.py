"""The strategic merge patch engine against cases in the style of Kubernetes'
apimachinery strategicpatch tests (original, patch, expected), on corral's schema."""

from __future__ import annotations

import copy

import pytest

from proto import apps_pb2, core_pb2
from proto.patch import PatchError, strategic_merge

POD = core_pb2.Pod.DESCRIPTOR
DEPLOY = apps_pb2.Deployment.DESCRIPTOR


def containers(*items: dict) -> dict:
    return {"spec": {"containers": list(items)}}


CASES = [
    ("add and delete map keys (null deletes)",
     {"metadata": {"labels": {"a": "1", "b": "2"}}},
     {"metadata": {"labels": {"b": None, "c": "3"}}},
     {"metadata": {"labels": {"a": "1", "c": "3"}}}),
    ("null for a key that is not there changes nothing",
     {"metadata": {"name": "x"}},
     {"metadata": {"generateName": None}},
     {"metadata": {"name": "x"}}),
    ("merge an item of a list merged by key, keep its other fields",
     containers({"name": "a", "image": "v1", "tty": True}, {"name": "b", "image": "v1"}),
     containers({"name": "a", "image": "v2"}),
     containers({"name": "a", "image": "v2", "tty": True}, {"name": "b", "image": "v1"})),
    ("a new item without $setElementOrder goes before the server's (as in Kubernetes)",
     containers({"name": "a", "image": "v1"}),
     containers({"name": "b", "image": "v1"}),
     containers({"name": "b", "image": "v1"}, {"name": "a", "image": "v1"})),
    ("a new item with $setElementOrder goes where the order says",
     containers({"name": "a", "image": "v1"}),
     {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
               "containers": [{"name": "b", "image": "v1"}]}},
     containers({"name": "a", "image": "v1"}, {"name": "b", "image": "v1"})),
    ("preserve the order from the patch in a merging list",
     containers({"name": "1"}, {"name": "2", "image": "b"}, {"name": "3"}),
     containers({"name": "3", "image": "c"}, {"name": "1", "image": "a"},
                {"name": "2", "workingDir": "x"}),
     containers({"name": "3", "image": "c"}, {"name": "1", "image": "a"},
                {"name": "2", "image": "b", "workingDir": "x"})),
    ("preserve the order from the patch in a merging list 2",
     containers({"name": "1"}, {"name": "2", "image": "b"}, {"name": "3"}),
     containers({"name": "3", "image": "c"}, {"name": "1", "image": "a"}),
     containers({"name": "2", "image": "b"}, {"name": "3", "image": "c"},
                {"name": "1", "image": "a"})),
    ("preserve the order from the patch in a merging scalar list",
     {"metadata": {"finalizers": ["1", "2", "3"]}},
     {"metadata": {"finalizers": ["3", "1"]}},
     {"metadata": {"finalizers": ["2", "3", "1"]}}),
    ("$setElementOrder may name an item the list does not have",
     containers({"name": "1"}, {"name": "3"}),
     {"spec": {"$setElementOrder/containers": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
               "containers": [{"name": "3", "image": "3"}, {"name": "1", "image": "1"}]}},
     containers({"name": "3", "image": "3"}, {"name": "1", "image": "1"})),
    ("delete all duplicate entries in a merging list",
     containers({"name": "1"}, {"name": "1"}, {"name": "2", "image": "a"}, {"name": "3"},
                {"name": "3"}),
     {"spec": {"containers": [{"name": "1", "$patch": "delete"},
                              {"name": "3", "$patch": "delete"}]}},
     containers({"name": "2", "image": "a"})),
    ("merge empty merging lists",
     {"spec": {"containers": []}}, {"spec": {"containers": []}}, {"spec": {"containers": []}}),
    ("delete all keys from a map and add one ($patch: replace)",
     {"metadata": {"labels": {"name": "1", "value": "1"}}},
     {"metadata": {"labels": {"other": "a", "$patch": "replace"}}},
     {"metadata": {"labels": {"other": "a"}}}),
    ("delete items in lists of maps ($patch: delete)",
     containers({"name": "1"}, {"name": "2"}),
     {"spec": {"$setElementOrder/containers": [{"name": "1"}],
               "containers": [{"name": "2", "$patch": "delete"}]}},
     containers({"name": "1"})),
    ("delete all items from a merging list ($patch: replace)",
     containers({"name": "1"}, {"name": "2"}),
     {"spec": {"containers": [{"$patch": "replace"}]}},
     {"spec": {"containers": []}}),
    ("replace a merging list with the patch's items",
     containers({"name": "1", "image": "x"}, {"name": "2"}),
     {"spec": {"containers": [{"name": "3"}, {"$patch": "replace"}]}},
     containers({"name": "3"})),
    ("add a field to an item and reorder ($setElementOrder)",
     containers({"name": "1"}, {"name": "2", "image": "a"}),
     {"spec": {"$setElementOrder/containers": [{"name": "2"}, {"name": "1"}],
               "containers": [{"name": "2", "workingDir": "b"}]}},
     containers({"name": "2", "image": "a", "workingDir": "b"}, {"name": "1"})),
    ("reorder without changing any item",
     containers({"name": "1"}, {"name": "2"}, {"name": "3"}),
     {"spec": {"$setElementOrder/containers": [{"name": "3"}, {"name": "1"},
                                               {"name": "2"}]}},
     containers({"name": "3"}, {"name": "1"}, {"name": "2"})),
    ("merge lists of scalars (a set, no duplicates)",
     {"metadata": {"finalizers": ["a", "b"]}},
     {"metadata": {"$setElementOrder/finalizers": ["a", "b", "c"], "finalizers": ["c", "a"]}},
     {"metadata": {"finalizers": ["a", "b", "c"]}}),
    ("delete from a primitive list",
     {"metadata": {"finalizers": ["a", "b", "c"]}},
     {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
     {"metadata": {"finalizers": ["a", "c"]}}),
    ("a list without a strategy is replaced",
     containers({"name": "a", "command": ["sh", "-c", "x"]}),
     containers({"name": "a", "command": ["true"]}),
     containers({"name": "a", "command": ["true"]})),
    ("replace a map ($patch: replace)",
     containers({"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}),
     containers({"name": "a", "resources": {"$patch": "replace", "limits": {"cpu": "2"}}}),
     containers({"name": "a", "resources": {"limits": {"cpu": "2"}}})),
    ("delete a map ($patch: delete)",
     {"spec": {"securityContext": {"runAsUser": 1}, "hostname": "h"}},
     {"spec": {"securityContext": {"$patch": "delete"}}},
     {"spec": {"securityContext": {}, "hostname": "h"}}),
    ("env merges by name; ports by containerPort",
     containers({"name": "a", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 80, "name": "http"}]}),
     containers({"name": "a", "env": [{"name": "B", "value": "3"}],
                 "ports": [{"containerPort": 80, "protocol": "TCP"}]}),
     containers({"name": "a", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}],
                 "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}]})),
    ("status conditions merge by type",
     {"status": {"conditions": [{"type": "Ready", "status": "False"},
                                {"type": "Initialized", "status": "True"}]}},
     {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
     {"status": {"conditions": [{"type": "Ready", "status": "True"},
                                {"type": "Initialized", "status": "True"}]}}),
    ("a new item's nulls and directives are dropped",
     containers({"name": "a"}),
     containers({"name": "b", "image": None, "resources": {"$patch": "merge"}}),
     containers({"name": "b", "resources": {}}, {"name": "a"})),
    ("a retainKeys list item without $retainKeys merges as usual",
     {"spec": {"volumes": [{"name": "bar"}, {"name": "foo", "emptyDir": {}}]}},
     {"spec": {"volumes": [{"name": "foo", "hostPath": {"path": "/x"}}]}},
     {"spec": {"volumes": [{"name": "bar"},
                           {"name": "foo", "emptyDir": {}, "hostPath": {"path": "/x"}}]}}),
    ("a retainKeys list item with $retainKeys drops the other keys",
     {"spec": {"volumes": [{"name": "foo", "emptyDir": {}}]}},
     {"spec": {"volumes": [{"name": "foo", "$retainKeys": ["name", "hostPath"],
                            "hostPath": {"path": "/x"}}]}},
     {"spec": {"volumes": [{"name": "foo", "hostPath": {"path": "/x"}}]}}),
]


@pytest.mark.parametrize(("original", "patch", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pod_cases(original: dict, patch: dict, expected: dict) -> None:
    before, patch_before = copy.deepcopy(original), copy.deepcopy(patch)
    assert strategic_merge(original, patch, POD) == expected
    assert original == before and patch == patch_before   # inputs are never changed


def test_retain_keys_clears_what_the_patch_does_not_keep() -> None:
    live = {"spec": {"strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": "25%"}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge(live, patch, DEPLOY) == {"spec": {"strategy": {"type": "Recreate"}}}


def test_deployment_template_containers_merge_deep() -> None:
    live = {"spec": {"replicas": 5, "template": {"spec": {"containers": [
        {"name": "web", "image": "demo:v1", "imagePullPolicy": "IfNotPresent"}]}}}}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web",
                                                            "image": "demo:v2"}]}}}}
    out = strategic_merge(live, patch, DEPLOY)
    assert out["spec"]["replicas"] == 5
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "demo:v2", "imagePullPolicy": "IfNotPresent"}]


@pytest.mark.parametrize(("patch", "where"), [
    (containers({"image": "x"}), "spec.containers[0]"),                  # no merge key
    ({"spec": {"containers": [{"name": "a", "$patch": "bogus"}]}}, "spec.containers[0]"),
    ({"spec": {"$bogus": 1}}, "spec.$bogus"),
    ({"metadata": {"$retainKeys": "name"}}, "metadata.$retainKeys"),
    ({"metadata": {"$retainKeys": ["name"], "namespace": "x"}}, "metadata.$retainKeys"),
])
def test_bad_patches_name_the_place(patch: dict, where: str) -> None:
    with pytest.raises(PatchError) as e:
        strategic_merge(containers({"name": "a"}), patch, POD)
    assert e.value.path == where


def test_not_an_object() -> None:
    with pytest.raises(PatchError):
        strategic_merge({}, ["x"], POD)  # type: ignore[arg-type]
