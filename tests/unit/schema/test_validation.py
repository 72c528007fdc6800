"""Validation of new objects: every bad field is named by its path."""

import copy

import pytest

from controlplane.apiserver.validation import validate
from tests.unit.schema.validation_cases import (
    DEPLOYMENT,
    POD,
    QUANTITY_RE,
    build,
    errors_of,
    with_,
)


def test_valid_objects():
    assert errors_of(POD) == {}
    assert errors_of(DEPLOYMENT) == {}
    rs = copy.deepcopy(DEPLOYMENT)
    rs["kind"] = "ReplicaSet"
    assert errors_of(rs) == {}


def test_validation_without_defaults_accepts_empty_enums():
    errs = validate(build(POD, defaults=False))
    assert [str(e) for e in errs] == ["metadata.namespace: Required value"]


@pytest.mark.parametrize(
    ("path", "value", "err_path", "fragment"),
    [
        ("metadata.name", "Web_1", "metadata.name", "RFC 1123 subdomain"),
        ("metadata.name", None, "metadata.name", "Required value"),
        ("metadata.labels", {"bad key": "x"}, "metadata.labels", "name part must consist"),
        ("metadata.labels", {"app": "-x-"}, "metadata.labels.app", "a valid label"),
        ("metadata.annotations", {"a/b/c": "x"}, "metadata.annotations", "qualified name"),
        ("spec.containers", [], "spec.containers", "Required value"),
        ("spec.containers[0].image", "", "spec.containers[0].image", "Required value"),
        ("spec.containers[0].name", "Web", "spec.containers[0].name", "RFC 1123 label"),
        ("spec.restartPolicy", "Sometimes", "spec.restartPolicy",
         'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"'),
        ("spec.dnsPolicy", "Google", "spec.dnsPolicy", "Unsupported value"),
        ("spec.containers[0].imagePullPolicy", "Sometimes",
         "spec.containers[0].imagePullPolicy", "Unsupported value"),
        ("spec.containers[0].ports[0].protocol", "ICMP",
         "spec.containers[0].ports[0].protocol", 'supported values: "SCTP", "TCP", "UDP"'),
        ("spec.containers[0].ports[0].containerPort", 70000,
         "spec.containers[0].ports[0].containerPort", "between 1 and 65535"),
        ("spec.containers[0].ports[0].name", "HTTP_PORT",
         "spec.containers[0].ports[0].name", "alpha-numeric"),
        ("spec.containers[0].resources.limits.memory", "12X",
         "spec.containers[0].resources.limits.memory",
         f'Invalid value: "12X": quantities must match the regular expression {QUANTITY_RE}'),
        ("spec.containers[0].resources.requests.cpu", "-1",
         "spec.containers[0].resources.requests.cpu",
         'Invalid value: "-1": must be greater than or equal to 0'),
        ("spec.containers[0].resources.requests.cpu", "1.2.3",
         "spec.containers[0].resources.requests.cpu", "quantities must match"),
        ("spec.containers[0].resources.requests.memory", "1Gi",
         "spec.containers[0].resources.requests.memory",
         "must be less than or equal to memory limit of 128Mi"),
        ("spec.containers[0].resources.limits.gpu", "1",
         "spec.containers[0].resources.limits.gpu", "standard resource type"),
        ("spec.containers[0].livenessProbe", {"periodSeconds": 3},
         "spec.containers[0].livenessProbe", "must specify a handler type"),
        ("spec.containers[0].livenessProbe",
         {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}},
         "spec.containers[0].livenessProbe", "may not specify more than 1 handler type"),
        ("spec.containers[0].livenessProbe", {"tcpSocket": {"port": 0}},
         "spec.containers[0].livenessProbe.tcpSocket.port", "between 1 and 65535"),
        ("spec.containers[0].livenessProbe", {"exec": {"command": ["x"]}, "successThreshold": 2},
         "spec.containers[0].livenessProbe.successThreshold", "must be 1"),
        ("spec.volumes", [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}],
         "spec.volumes[1].name", 'Duplicate value: "data"'),
        ("spec.volumes", [{"name": "data"}], "spec.volumes[0]", "must specify a volume type"),
        ("spec.volumes", [{"name": "data", "emptyDir": {}, "hostPath": {"path": "/x"}}],
         "spec.volumes[0].hostPath", "more than 1 volume type"),
        ("spec.volumes", [{"name": "data", "hostPath": {"path": "rel"}}],
         "spec.volumes[0].hostPath.path", "absolute"),
        ("spec.volumes", [{"name": "data", "emptyDir": {"sizeLimit": "12X"}}],
         "spec.volumes[0].emptyDir.sizeLimit", "quantities must match"),
        ("spec.containers[0].volumeMounts", [{"name": "nope", "mountPath": "/x"}],
         "spec.containers[0].volumeMounts[0].name", 'Not found: "nope"'),
        ("spec.containers[0].volumeMounts", [{"name": "data", "mountPath": "x"}],
         "spec.containers[0].volumeMounts[0].mountPath", "must be an absolute path"),
        ("spec.containers[0].env", [{"name": "1=x"}], "spec.containers[0].env[0].name",
         "environment variable name"),
        ("spec.tolerations", [{"key": "k", "operator": "Maybe"}],
         "spec.tolerations[0].operator", "Unsupported value"),
        ("spec.tolerations", [{"key": "k", "operator": "Exists", "value": "v"}],
         "spec.tolerations[0].operator", "value must be empty"),
        ("spec.tolerations", [{"key": "k", "effect": "NoWay"}],
         "spec.tolerations[0].effect", "Unsupported value"),
        ("spec.tolerations", [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}],
         "spec.tolerations[0].effect", "NoExecute"),
        ("spec.nodeSelector", {"disk": "ssd fast"}, "spec.nodeSelector.disk", "a valid label"),
        ("spec.activeDeadlineSeconds", 0, "spec.activeDeadlineSeconds", "between 1"),
        ("spec.terminationGracePeriodSeconds", -1, "spec.terminationGracePeriodSeconds",
         "greater than or equal to 0"),
    ],
)
def test_pod_errors(path, value, err_path, fragment):
    errs = errors_of(with_(POD, path, value))
    assert err_path in errs, errs
    assert fragment in errs[err_path]


def test_duplicate_container_names():
    doc = copy.deepcopy(POD)
    doc["spec"]["containers"].append(copy.deepcopy(doc["spec"]["containers"][0]))
    assert errors_of(doc)["spec.containers[1].name"] == 'Duplicate value: "web"'


def test_error_str_form():
    errs = validate(build(with_(POD, "spec.restartPolicy", "Sometimes")))
    assert [str(e) for e in errs] == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
        '"Always", "Never", "OnFailure"']


def test_namespace_rules():
    assert errors_of({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}) \
        ["metadata.name"].startswith('Invalid value: "a.b": a lowercase RFC 1123 label')
    assert errors_of({"apiVersion": "v1", "kind": "Node",
                      "metadata": {"name": "n", "namespace": "x"}}) == {
        "metadata.namespace": "Forbidden: not allowed on this type"}
    assert errors_of(with_(POD, "metadata.namespace", "Bad")) != {}


@pytest.mark.parametrize(
    ("path", "value", "err_path", "fragment"),
    [
        ("spec.replicas", -1, "spec.replicas", "greater than or equal to 0"),
        ("spec.selector", None, "spec.selector", "Required value"),
        ("spec.selector", {}, "spec.selector", "empty selector"),
        ("spec.selector", {"matchLabels": {"app": "other"}}, "spec.template.metadata.labels",
         "`selector` does not match template `labels`"),
        ("spec.selector", {"matchExpressions": [{"key": "app", "operator": "Like"}]},
         "spec.selector.matchExpressions[0].operator", "Unsupported value"),
        ("spec.template.spec.restartPolicy", "Never", "spec.template.spec.restartPolicy",
         'Unsupported value: "Never": supported values: "Always"'),
        ("spec.template.spec.containers[0].resources.limits.memory", "12X",
         "spec.template.spec.containers[0].resources.limits.memory", "quantities must match"),
        ("spec.strategy", {"type": "BlueGreen"}, "spec.strategy.type", "Unsupported value"),
        ("spec.strategy", {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}},
         "spec.strategy.rollingUpdate", "Forbidden"),
        ("spec.strategy", {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}},
         "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0"),
        ("spec.strategy", {"rollingUpdate": {"maxSurge": "x%"}},
         "spec.strategy.rollingUpdate.maxSurge", "a valid percent string"),
        ("spec.strategy", {"rollingUpdate": {"maxSurge": -1}},
         "spec.strategy.rollingUpdate.maxSurge", "greater than or equal to 0"),
        ("spec.strategy", {"rollingUpdate": {"maxUnavailable": "150%"}},
         "spec.strategy.rollingUpdate.maxUnavailable", "100%"),
        ("spec.revisionHistoryLimit", -2, "spec.revisionHistoryLimit", "greater than"),
        ("spec.progressDeadlineSeconds", 0, "spec.progressDeadlineSeconds", "minReadySeconds"),
    ],
)
def test_deployment_errors(path, value, err_path, fragment):
    errs = errors_of(with_(DEPLOYMENT, path, value))
    assert err_path in errs, errs
    assert fragment in errs[err_path]


def test_deployment_strategy_ok():
    for ru in ({"maxSurge": 1, "maxUnavailable": 0}, {"maxSurge": "50%"},
               {"maxSurge": 0, "maxUnavailable": 1}):
        assert errors_of(with_(DEPLOYMENT, "spec.strategy", {"rollingUpdate": ru})) == {}


def test_selector_expressions_match_template():
    doc = with_(DEPLOYMENT, "spec.selector", {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["web", "www"]},
        {"key": "legacy", "operator": "DoesNotExist"}]})
    assert errors_of(doc) == {}


def test_node_validation():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
            "spec": {"podCIDR": "10.244.1.0/24",
                     "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi"}}}
    assert errors_of(node) == {}
    assert "spec.taints[0].effect" in errors_of(with_(node, "spec.taints[0].effect", "Never"))
    assert "spec.taints[0].effect" in errors_of(with_(node, "spec.taints[0].effect", None))
    assert "spec.podCIDR" in errors_of(with_(node, "spec.podCIDR", "10.0.0.0/99"))
    assert "status.capacity.memory" in errors_of(with_(node, "status.capacity.memory", "8GB"))
    old = node
    new = with_(node, "spec.podCIDR", "10.244.2.0/24")
    assert "spec.podCIDR" in errors_of(new, old)


def test_event_and_lease():
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1"}, "type": "Oops"}
    assert "type" in errors_of(ev)
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "node-1", "namespace": "corral-node-lease"},
             "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}}
    assert errors_of(lease) == {}
    assert "spec.leaseDurationSeconds" in errors_of(with_(lease, "spec.leaseDurationSeconds", 0))
