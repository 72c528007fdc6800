import pytest

from proto import api_pb2, labels, meta_pb2
from proto.labels import SelectorError, parse_field_selector, parse_selector


@pytest.mark.parametrize(
    ("text", "lbls", "want"),
    [
        ("", {}, True),
        ("app=web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app==web", {"app": "web"}, True),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("tier in (a,b)", {"tier": "b"}, True),
        ("tier in (a,b)", {"tier": "c"}, False),
        ("tier in (a,b)", {}, False),
        ("tier notin (a)", {}, True),
        ("tier notin (a)", {"tier": "a"}, False),
        ("tier notin (a)", {"tier": "x"}, True),
        ("legacy", {"legacy": ""}, True),
        ("legacy", {}, False),
        ("!legacy", {}, True),
        ("!legacy", {"legacy": "1"}, False),
        ("app=web,tier in (a, b),!legacy", {"app": "web", "tier": "a"}, True),
        ("app=web,tier in (a, b),!legacy", {"app": "web", "tier": "a", "legacy": "y"}, False),
        ("example.com/role=x", {"example.com/role": "x"}, True),
        ("a=", {"a": ""}, True),
    ],
)
def test_selector_matches(text, lbls, want):
    sel = parse_selector(text)
    assert sel.matches(lbls) is want
    # str() round-trips
    assert parse_selector(str(sel)) == sel


def test_selector_string_form():
    sel = parse_selector("tier in (b, a),app=web,!legacy")
    assert str(sel) == "app=web,!legacy,tier in (a,b)"
    assert parse_selector("").empty
    assert not sel.empty


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("a in (x", "a in (x"),
        ("a=b=c", "a=b=c"),
        ("=b", "=b"),
        ("a in x", "a in x"),
        ("a b", "a b"),
        ("app=web,bad key=x", "bad key=x"),
        ("a=@@", "@@"),
        ("!a=b", "!a=b"),
        ("a in ()", "a in ()"),
        ("Bad/Key/x=y", "Bad/Key/x"),
    ],
)
def test_selector_errors_name_the_part(text, part):
    with pytest.raises(SelectorError) as exc:
        parse_selector(text)
    assert part in str(exc.value)


def test_trailing_comma():
    with pytest.raises(SelectorError):
        parse_selector("a=b,")


def test_from_label_selector():
    ls = meta_pb2.LabelSelector(
        match_labels={"app": "web"},
        match_expressions=[
            meta_pb2.LabelSelectorRequirement(key="tier", operator="In", values=["a", "b"]),
            meta_pb2.LabelSelectorRequirement(key="env", operator="NotIn", values=["prod"]),
            meta_pb2.LabelSelectorRequirement(key="x", operator="Exists"),
            meta_pb2.LabelSelectorRequirement(key="old", operator="DoesNotExist"),
        ],
    )
    sel = labels.from_label_selector(ls)
    assert sel.matches({"app": "web", "tier": "a", "x": ""})
    assert not sel.matches({"app": "web", "tier": "a", "x": "", "old": "1"})
    assert not sel.matches({"app": "web", "tier": "a", "x": "", "env": "prod"})
    assert not sel.matches({"app": "web", "tier": "a"})
    assert parse_selector(str(sel)) == sel
    assert labels.from_label_selector(meta_pb2.LabelSelector()).matches({"any": "thing"})
    assert not labels.from_label_selector(None).matches({})


def test_from_label_selector_bad_operator():
    ls = meta_pb2.LabelSelector(
        match_expressions=[meta_pb2.LabelSelectorRequirement(key="a", operator="Equals")]
    )
    with pytest.raises(SelectorError) as exc:
        labels.from_label_selector(ls)
    assert "Equals" in str(exc.value)


def _pod(name: str = "p", ns: str = "default", node: str = "",
         phase: str = "Pending") -> api_pb2.Object:
    o = api_pb2.Object()
    o.pod.metadata.name = name
    o.pod.metadata.namespace = ns
    o.pod.spec.node_name = node
    o.pod.status.phase = phase
    return o


def test_field_selector():
    fs = parse_field_selector("spec.nodeName=node-1,metadata.namespace!=kube")
    assert fs.matches(_pod(node="node-1"))
    assert not fs.matches(_pod(node="node-2"))
    assert not fs.matches(_pod(node="node-1", ns="kube"))
    assert fs.exact("spec.nodeName") == "node-1"
    assert fs.exact("metadata.name") is None
    assert [r.field for r in fs.requirements] == ["spec.nodeName", "metadata.namespace"]
    assert parse_field_selector(str(fs)) == fs
    assert parse_field_selector("status.phase==Running").matches(_pod(phase="Running"))
    assert parse_field_selector("spec.nodeName=").matches(_pod())
    assert parse_field_selector("").empty


def test_field_selector_events():
    o = api_pb2.Object()
    o.event.involved_object.CopyFrom(
        meta_pb2.ObjectReference(kind="Pod", name="web-1", namespace="default", uid="u1"))
    fs = parse_field_selector("involvedObject.kind=Pod,involvedObject.name=web-1", "events")
    assert fs.matches(o)
    assert not parse_field_selector("involvedObject.uid=u2").matches(o)


def test_field_selector_unsupported():
    with pytest.raises(SelectorError) as exc:
        parse_field_selector("spec.foo=bar")
    assert "spec.foo" in str(exc.value)
    with pytest.raises(SelectorError):
        parse_field_selector("spec.nodeName=x", "nodes")
    with pytest.raises(SelectorError):
        parse_field_selector("metadata.name")
    with pytest.raises(SelectorError):
        parse_field_selector("a=b,,c=d")


def test_field_selector_escapes():
    fs = parse_field_selector(r"metadata.name=a\,b")
    assert fs.exact("metadata.name") == "a,b"
    assert parse_field_selector(str(fs)) == fs


def test_name_helpers():
    assert labels.dns1123_label_errors("web-1") == []
    assert labels.dns1123_label_errors("Web") != []
    assert labels.dns1123_label_errors("a" * 64) != []
    assert labels.dns1123_subdomain_errors("a.b-c.d") == []
    assert labels.dns1123_subdomain_errors("a..b") != []
    assert labels.qualified_name_errors("example.com/MyName") == []
    assert labels.qualified_name_errors("app") == []
    assert labels.qualified_name_errors("/x") == ["prefix part must be non-empty"]
    assert labels.qualified_name_errors("a/b/c") != []
    assert labels.qualified_name_errors("-x") != []
    assert labels.label_value_errors("") == []
    assert labels.label_value_errors("v1.2_3") == []
    assert labels.label_value_errors("x" * 64) == ["must be no more than 63 characters"]
