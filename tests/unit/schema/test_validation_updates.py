"""Validation of updates (what may change), and a property: validation never crashes
on whatever decodes."""

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.apiserver.defaults import apply_defaults
from controlplane.apiserver.validation import validate
from proto import codec
from tests.unit.schema.validation_cases import DEPLOYMENT, POD, build, errors_of, with_

# ---- updates ---------------------------------------------------------------


def test_pod_update_allowed_fields():
    bound = with_(POD, "spec.nodeName", "node-1")
    assert errors_of(with_(POD, "spec.containers[0].image", "demo:v2"), POD) == {}
    assert errors_of(bound, POD) == {}  # binding: "" -> node
    assert errors_of(with_(POD, "metadata.labels", {"app": "x"}), POD) == {}
    tol = with_(POD, "spec.tolerations", [{"key": "k", "operator": "Exists"}])
    assert errors_of(tol, POD) == {}
    assert "spec.tolerations" in errors_of(POD, tol)
    assert errors_of(with_(POD, "spec.activeDeadlineSeconds", 30), POD) == {}


def test_pod_update_forbidden():
    errs = errors_of(with_(POD, "spec.restartPolicy", "Never"), POD)
    assert errs["spec"].startswith("Forbidden: pod updates may not change fields other than")
    assert "restartPolicy" in errs["spec"]
    bound = with_(POD, "spec.nodeName", "node-1")
    errs = errors_of(with_(POD, "spec.nodeName", "node-2"), bound)
    assert errs["spec.nodeName"].startswith("Forbidden: may not change once set")
    errs = errors_of(with_(POD, "spec.containers", POD["spec"]["containers"] * 1 + [
        {"name": "side", "image": "x"}]), POD)
    assert "spec" in errs


def test_metadata_immutable():
    errs = errors_of(with_(POD, "metadata.name", "other"), POD)
    assert errs["metadata.name"] == 'Invalid value: "other": field is immutable'
    old = with_(POD, "metadata.uid", "u1")
    assert "metadata.uid" in errors_of(with_(POD, "metadata.uid", "u2"), old)
    assert "metadata.namespace" in errors_of(with_(POD, "metadata.namespace", "x"), POD)


def test_selector_immutable():
    new = with_(DEPLOYMENT, "spec.selector", {"matchLabels": {"app": "web", "v": "2"}})
    new = with_(new, "spec.template.metadata.labels", {"app": "web", "v": "2"})
    errs = errors_of(new, DEPLOYMENT)
    assert errs["spec.selector"].endswith("field is immutable")
    assert errors_of(with_(DEPLOYMENT, "spec.replicas", 5), DEPLOYMENT) == {}
    rs = dict(DEPLOYMENT, kind="ReplicaSet")
    assert "spec.selector" in errors_of(dict(new, kind="ReplicaSet"), rs)


def test_status_only_update_is_valid():
    running = with_(POD, "spec.nodeName", "node-1")
    running["status"] = {"phase": "Running", "podIP": "10.0.0.2"}
    assert errors_of(running, with_(POD, "spec.nodeName", "node-1")) == {}
    running["status"]["phase"] = "Exploded"
    assert "status.phase" in errors_of(running)


# ---- property: validation never crashes on whatever decodes -------------------

_PATHS = [
    "metadata.name", "metadata.labels", "metadata.annotations", "metadata.generateName",
    "spec.replicas", "spec.selector", "spec.selector.matchLabels",
    "spec.selector.matchExpressions", "spec.strategy", "spec.strategy.rollingUpdate",
    "spec.template.metadata.labels", "spec.template.spec.containers",
    "spec.template.spec.containers[0].resources", "spec.template.spec.containers[0].ports",
    "spec.template.spec.containers[0].livenessProbe", "spec.template.spec.volumes",
    "spec.template.spec.tolerations", "spec.template.spec.restartPolicy",
    "spec.template.spec.containers[0].volumeMounts", "spec.minReadySeconds",
    "spec.progressDeadlineSeconds",
]
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 70000),
              st.sampled_from(["", "x", "web", "25%", "-1", "12X", "Exists", "In", "/p",
                               "Always", "RollingUpdate", "Recreate"])),
    lambda ch: st.one_of(
        st.lists(ch, max_size=3),
        st.dictionaries(st.sampled_from(
            ["name", "key", "operator", "values", "matchLabels", "type", "port", "tcpSocket",
             "httpGet", "exec", "command", "limits", "requests", "cpu", "memory",
             "containerPort", "protocol", "maxSurge", "maxUnavailable", "rollingUpdate",
             "emptyDir", "hostPath", "path", "mountPath", "effect", "value", "web", "app"]),
            ch, max_size=4)),
    max_leaves=12)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_PATHS), _values), min_size=1, max_size=4))
def test_validate_never_crashes(mutations):
    doc = copy.deepcopy(DEPLOYMENT)
    for path, value in mutations:
        try:
            doc = with_(doc, path, value if value is not None else {})
        except (KeyError, IndexError, TypeError):
            continue
    try:
        obj = codec.decode(doc)
    except codec.DecodeError:
        return
    apply_defaults(obj)
    errs = validate(obj)
    assert all(e.path for e in errs)
    validate(obj, build(DEPLOYMENT))
