import pytest

from controlplane.apiserver.defaults import (
    apply_defaults,
    default_image_pull_policy,
    qos_class,
)
from proto import api_pb2, codec, core_pb2


def obj(doc: dict) -> api_pb2.Object:
    o = codec.decode(doc)
    apply_defaults(o)
    return o


def pod(spec: dict, **meta: str) -> api_pb2.Object:
    return obj({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **meta},
                "spec": spec})


def test_pod_defaults():
    o = pod({"containers": [{
        "name": "c", "image": "nginx",
        "ports": [{"containerPort": 80}],
        "livenessProbe": {"httpGet": {"port": 80}},
        "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 3},
    }]})
    p = o.pod
    assert p.api_version == "v1" and p.kind == "Pod"
    assert p.metadata.namespace == "default"
    assert p.spec.restart_policy == "Always"
    assert p.spec.HasField("termination_grace_period_seconds")
    assert p.spec.termination_grace_period_seconds == 30
    assert p.spec.dns_policy == "ClusterFirst"
    assert p.spec.scheduler_name == "default-scheduler"
    c = p.spec.containers[0]
    assert c.image_pull_policy == "Always"
    assert c.termination_message_path == "/dev/termination-log"
    assert c.ports[0].protocol == "TCP"
    lp = c.liveness_probe
    assert (lp.timeout_seconds, lp.period_seconds, lp.success_threshold,
            lp.failure_threshold) == (1, 10, 1, 3)
    assert lp.http_get.scheme == "HTTP" and lp.http_get.path == "/"
    assert c.readiness_probe.period_seconds == 3
    assert not c.HasField("startup_probe")
    assert p.status.phase == "Pending"
    assert p.status.qos_class == "BestEffort"


def test_defaults_keep_given_values_and_are_idempotent():
    o = pod({"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
             "containers": [{"name": "c", "image": "x:1", "imagePullPolicy": "Never"}]},
            namespace="team")
    p = o.pod
    assert p.metadata.namespace == "team"
    assert p.spec.restart_policy == "Never"
    assert p.spec.termination_grace_period_seconds == 0
    assert p.spec.containers[0].image_pull_policy == "Never"
    again = api_pb2.Object()
    again.CopyFrom(o)
    apply_defaults(again)
    assert again == o


@pytest.mark.parametrize(
    ("image", "policy"),
    [("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
     ("localhost:5000/demo", "Always"), ("localhost:5000/demo:v2", "IfNotPresent"),
     ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
     ("busybox:latest@sha256:" + "a" * 64, "Always"),
     ("busybox:1.36@sha256:" + "a" * 64, "IfNotPresent")],
)
def test_image_pull_policy(image, policy):
    assert default_image_pull_policy(image) == policy


def test_requests_from_limits_and_qos():
    o = pod({"containers": [{"name": "c", "image": "i",
                             "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}]})
    c = o.pod.spec.containers[0]
    assert dict(c.resources.requests) == {"cpu": "500m", "memory": "128Mi"}
    assert o.pod.status.qos_class == "Guaranteed"

    o = pod({"containers": [{"name": "c", "image": "i",
                             "resources": {"limits": {"cpu": "1"},
                                           "requests": {"cpu": "500m"}}}]})
    assert o.pod.spec.containers[0].resources.requests["cpu"] == "500m"
    assert o.pod.status.qos_class == "Burstable"


def _spec(*resources: dict) -> core_pb2.PodSpec:
    spec = core_pb2.PodSpec()
    for i, r in enumerate(resources):
        c = spec.containers.add(name=f"c{i}", image="i")
        c.resources.limits.update(r.get("limits", {}))
        c.resources.requests.update(r.get("requests", {}))
    return spec


def test_qos_class():
    g = {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}
    assert qos_class(_spec(g, g)) == "Guaranteed"
    assert qos_class(_spec(g, {})) == "Burstable"
    assert qos_class(_spec({}, {})) == "BestEffort"
    assert qos_class(_spec({"requests": {"cpu": "0"}})) == "BestEffort"
    assert qos_class(_spec({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}})) == "Burstable"
    assert qos_class(_spec({"requests": {"memory": "12X"}})) == "BestEffort"  # left to validation


def test_deployment_defaults():
    o = obj({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
             "spec": {"selector": {"matchLabels": {"a": "b"}},
                      "template": {"metadata": {"labels": {"a": "b"}},
                                   "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}})
    d = o.deployment
    assert d.metadata.namespace == "default"
    assert d.spec.HasField("replicas") and d.spec.replicas == 1
    assert d.spec.strategy.type == "RollingUpdate"
    assert d.spec.strategy.rolling_update.max_surge.str_val == "25%"
    assert d.spec.strategy.rolling_update.max_unavailable.str_val == "25%"
    assert d.spec.revision_history_limit == 10
    assert d.spec.progress_deadline_seconds == 600
    t = d.spec.template.spec
    assert t.restart_policy == "Always" and t.dns_policy == "ClusterFirst"
    assert t.containers[0].image_pull_policy == "IfNotPresent"
    assert not d.spec.template.metadata.namespace  # templates get no namespace


def test_deployment_keeps_explicit_zero_and_recreate():
    o = obj({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
             "spec": {"replicas": 0, "revisionHistoryLimit": 0,
                      "strategy": {"type": "Recreate"}}})
    d = o.deployment
    assert d.spec.replicas == 0 and d.spec.revision_history_limit == 0
    assert not d.spec.strategy.HasField("rolling_update")
    o = obj({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
             "spec": {"strategy": {"rollingUpdate": {"maxSurge": 0}}}})
    ru = o.deployment.spec.strategy.rolling_update
    assert ru.max_surge.int_val == 0 and ru.max_surge.WhichOneof("value") == "int_val"
    assert ru.max_unavailable.str_val == "25%"


def test_replicaset_namespace_node_event_defaults():
    rs = obj({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
              "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    assert rs.replica_set.spec.replicas == 1
    assert rs.replica_set.spec.template.spec.restart_policy == "Always"
    ns = obj({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})
    assert ns.namespace.status.phase == "Active"
    assert ns.namespace.metadata.namespace == ""
    node = obj({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    assert node.node.metadata.namespace == "" and node.node.kind == "Node"
    ev = obj({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}})
    assert ev.event.count == 1 and ev.event.type == "Normal"
    assert ev.event.metadata.namespace == "default"
    ev = obj({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
              "type": "Warning", "count": 4})
    assert ev.event.count == 4 and ev.event.type == "Warning"


def test_api_version_and_kind_filled_from_table():
    o = api_pb2.Object()
    o.lease.metadata.name = "n1"
    apply_defaults(o)
    assert o.lease.api_version == "coordination.k8s.io/v1" and o.lease.kind == "Lease"
    assert o.lease.metadata.namespace == "default"
