"""`kubectl apply`'s three-way patch (last applied, new configuration, live object), and
RFC 6902 / RFC 7386 patches (cases from the RFCs' examples)."""

from __future__ import annotations

import json

import pytest

from proto import apps_pb2
from proto.patch import (
    LAST_APPLIED,
    PatchError,
    json_patch,
    last_applied,
    merge_patch,
    strategic_merge,
    three_way,
)

DEPLOY = apps_pb2.Deployment.DESCRIPTOR


def deployment(replicas: int | None = None, labels: dict | None = None,
               containers: list | None = None, strategy: dict | None = None) -> dict:
    spec: dict = {"template": {"spec": {"containers": containers or
                                        [{"name": "web", "image": "demo:v1"}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    if strategy is not None:
        spec["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels or {"app": "web"}}, "spec": spec}


def apply3(last: dict | None, new: dict, live: dict) -> dict:
    return strategic_merge(live, three_way(last, new, DEPLOY), DEPLOY)


def test_a_field_set_by_another_writer_and_not_in_the_config_survives() -> None:
    config = deployment()
    live = deployment(replicas=5)                       # `scale` set replicas
    live["metadata"]["uid"] = "u1"
    out = apply3(config, deployment(labels={"app": "web", "tier": "x"}), live)
    assert out["spec"]["replicas"] == 5
    assert out["metadata"]["labels"] == {"app": "web", "tier": "x"}
    assert out["metadata"]["uid"] == "u1"


def test_what_only_the_last_configuration_said_is_deleted() -> None:
    last = deployment(replicas=3, labels={"app": "web", "old": "y"},
                      containers=[{"name": "web", "image": "demo:v1"},
                                  {"name": "side", "image": "demo:v1"}])
    live = json.loads(json.dumps(last))
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    out = apply3(last, deployment(), live)
    assert "replicas" not in out["spec"]
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "demo:v1", "imagePullPolicy": "IfNotPresent"}]


def test_switching_to_recreate_clears_the_defaulted_rolling_update() -> None:
    live = deployment(strategy={"type": "RollingUpdate",
                                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    out = apply3(deployment(), deployment(strategy={"type": "Recreate"}), live)
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_the_patch_keeps_the_configurations_order() -> None:
    new = deployment(containers=[{"name": "b"}, {"name": "a"}])
    patch = three_way(None, new, DEPLOY)
    assert patch["spec"]["template"]["spec"]["$setElementOrder/containers"] == [
        {"name": "b"}, {"name": "a"}]
    live = deployment(containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    out = strategic_merge(live, patch, DEPLOY)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["b", "a"]


def test_last_applied_is_compact_sorted_json_without_itself() -> None:
    cfg = deployment()
    cfg["metadata"]["annotations"] = {LAST_APPLIED: "old"}
    text = last_applied(cfg)
    assert text.endswith("\n") and LAST_APPLIED not in text
    assert json.loads(text)["metadata"] == {"labels": {"app": "web"}, "name": "web"}


# ---- RFC 6902 (examples from its appendix A) -----------------------------------------

@pytest.mark.parametrize(("doc", "ops", "expected"), [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}],
     {"baz": "qux", "foo": "bar"}),
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
     {"foo": ["bar", "qux", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}],
     {"foo": ["bar", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}),
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ({"foo": ["all", "grass", "cows", "eat"]},
     [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}],
     {"a": {"b": 1}, "c": {"b": 1}}),
])
def test_json_patch_rfc_examples(doc: dict, ops: list, expected: dict) -> None:
    assert json_patch(doc, ops) == expected


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/baz", "value": "bar"}],               # A.9: test fails
    [{"op": "add", "path": "/baz/bat", "value": "qux"}],            # A.12: missing parent
    [{"op": "remove", "path": "/nope"}],
    [{"op": "replace", "path": "/foo/5", "value": 1}],
    [{"op": "frobnicate", "path": "/foo"}],
    [{"path": "/foo"}],
    {"op": "add"},
])
def test_json_patch_failures_change_nothing(ops: object) -> None:
    doc = {"baz": "qux", "foo": ["bar"]}
    with pytest.raises(PatchError):
        json_patch(doc, ops)
    assert doc == {"baz": "qux", "foo": ["bar"]}


# ---- RFC 7386 (its appendix A) --------------------------------------------------------

@pytest.mark.parametrize(("doc", "patch", "expected"), [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_rfc_examples(doc: dict, patch: dict, expected: dict) -> None:
    assert merge_patch(doc, patch) == expected
