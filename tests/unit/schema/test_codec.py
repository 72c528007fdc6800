import datetime as dt
import json

import pytest
import yaml

from proto import api_pb2, apps_pb2, codec, core_pb2, kinds, meta_pb2
from proto.codec import DecodeError

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
  creationTimestamp: "2024-01-31T12:00:00Z"
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: web}
    spec:
      restartPolicy: Always
      volumes:
      - name: data
        emptyDir: {}
      containers:
      - name: web
        image: demo:latest
        command: [httpd, -f, -p, "8080"]
        ports:
        - containerPort: 8080
        resources:
          limits: {cpu: 1, memory: 128Mi}
          requests: {cpu: 0.25, memory: 64}
        livenessProbe:
          httpGet: {path: /, port: http}
        readinessProbe:
          tcpSocket: {port: 8080}
        volumeMounts:
        - {name: data, mountPath: /data}
"""


def load(text: str) -> dict:
    return yaml.safe_load(text)


def test_decode_deployment():
    obj = codec.decode(load(DEPLOYMENT))
    assert obj.WhichOneof("kind") == "deployment"
    d = obj.deployment
    assert d.metadata.name == "web"
    assert d.spec.HasField("replicas") and d.spec.replicas == 3
    c = d.spec.template.spec.containers[0]
    assert c.resources.limits["cpu"] == "1"
    assert c.resources.requests["cpu"] == "250m"
    assert c.resources.requests["memory"] == "64"
    assert c.liveness_probe.http_get.port.str_val == "http"
    assert c.readiness_probe.tcp_socket.port.int_val == 8080
    assert d.spec.strategy.rolling_update.max_surge.int_val == 1
    assert d.spec.strategy.rolling_update.max_unavailable.str_val == "25%"
    assert d.spec.template.spec.volumes[0].HasField("empty_dir")
    assert d.metadata.creation_timestamp.seconds == 1706702400


def test_encode_form():
    obj = codec.decode(load(DEPLOYMENT))
    out = codec.encode(obj)
    assert list(out)[:5] == ["apiVersion", "kind", "metadata", "spec", "status"][: len(out)]
    assert out["apiVersion"] == "apps/v1" and out["kind"] == "Deployment"
    assert out["metadata"]["creationTimestamp"] == "2024-01-31T12:00:00Z"
    spec = out["spec"]
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": "25%"}
    pod = spec["template"]["spec"]
    assert pod["volumes"] == [{"name": "data", "emptyDir": {}}]
    assert pod["containers"][0]["livenessProbe"]["httpGet"]["port"] == "http"
    assert out["status"] == {}          # Kubernetes always writes the status struct
    json.dumps(out)  # JSON-serialisable
    assert codec.decode(out) == obj
    assert json.loads(codec.to_json(obj)) == out


def test_encode_fills_api_version_and_kind():
    pod = core_pb2.Pod()
    pod.metadata.name = "p"
    out = codec.encode(kinds.wrap(pod), full=False)
    assert list(out) == ["apiVersion", "kind", "metadata"]
    assert out["apiVersion"] == "v1" and out["kind"] == "Pod"
    assert codec.encode(pod, full=False) == out
    assert list(codec.encode(pod)) == ["apiVersion", "kind", "metadata", "spec", "status"]
    assert codec.encode(api_pb2.Object()) == {}


def test_optional_presence_kept():
    obj = codec.decode({"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {"replicas": 0}})
    assert obj.replica_set.spec.HasField("replicas")
    assert codec.encode(obj, full=False)["spec"] == {"replicas": 0}
    obj2 = codec.decode({"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {}})
    assert not obj2.replica_set.spec.HasField("replicas")
    pod = codec.decode({"apiVersion": "v1", "kind": "Pod",
                        "spec": {"terminationGracePeriodSeconds": 0,
                                 "securityContext": {"runAsNonRoot": False}}})
    assert codec.encode(pod, full=False)["spec"] == {"terminationGracePeriodSeconds": 0,
                                         "securityContext": {"runAsNonRoot": False}}


def test_zero_scalars_omitted():
    pod = core_pb2.Pod()
    pod.spec.host_network = False
    pod.spec.restart_policy = ""
    c = pod.spec.containers.add(name="c", image="i")
    c.ports.add(container_port=80)
    out = codec.encode(pod, full=False)
    assert out["spec"] == {"containers": [{"name": "c", "image": "i",
                                           "ports": [{"containerPort": 80}]}]}


def test_json_names():
    obj = codec.decode({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "spec": {"podCIDR": "10.0.1.0/24", "providerID": "x"},
        "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                   "nodeInfo": {"machineID": "m", "bootID": "b"},
                   "capacity": {"cpu": 4, "memory": "8Gi", "pods": 110}},
    })
    n = obj.node
    assert n.spec.pod_cidr == "10.0.1.0/24"
    assert n.status.daemon_endpoints.kubelet_endpoint.port == 10250
    assert n.status.capacity["cpu"] == "4"
    assert n.status.capacity["pods"] == "110"
    out = codec.encode(obj)
    assert out["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    pod = codec.decode({"apiVersion": "v1", "kind": "Pod", "status": {
        "podIP": "10.0.0.5", "hostIP": "1.2.3.4", "qosClass": "BestEffort",
        "podIPs": [{"ip": "10.0.0.5"}],
        "containerStatuses": [{"name": "c", "containerID": "x", "imageID": "sha256:1",
                               "state": {"terminated": {"exitCode": 1, "containerID": "x"}}}]}})
    assert pod.pod.status.pod_ip == "10.0.0.5"
    assert pod.pod.status.container_statuses[0].container_id == "x"
    assert codec.decode(codec.encode(pod)) == pod


@pytest.mark.parametrize(
    ("doc", "path", "fragment"),
    [
        ({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
            "containers": [{"name": "a", "imagePullPolcy": "Always"}]}}}},
         "spec.template.spec.containers[0].imagePullPolcy",
         'unknown field "imagePullPolcy" (did you mean "imagePullPolicy"?)'),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"restart_policy": "Never"}},
         "spec.restart_policy", 'did you mean "restartPolicy"'),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"zzz": 1}},
         "spec.zzz", 'unknown field "zzz"'),
        ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 5}},
         "metadata.name", "expected string, got integer 5"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"image": ["x"]}]}},
         "spec.containers[0].image", "expected string, got array"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": {"name": "x"}}},
         "spec.containers", "expected array, got object"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"hostNetwork": "yes"}},
         "spec.hostNetwork", "expected boolean"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"priority": True}},
         "spec.priority", "expected integer, got boolean"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"priority": "3"}},
         "spec.priority", "expected integer, got string"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"priority": 2**40}},
         "spec.priority", "out of range"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"priority": 1.5}},
         "spec.priority", "expected integer"),
        ({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": ["a"]}},
         "metadata.labels", "expected object"),
        ({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"v": 1}}},
         "metadata.labels.v", "expected string, got integer 1"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"resources": {
            "limits": {"cpu": True}}}]}},
         "spec.containers[0].resources.limits.cpu", "expected string, got boolean"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"livenessProbe": {
            "httpGet": {"port": 1.5}}}]}},
         "spec.containers[0].livenessProbe.httpGet.port", "expected integer or string"),
        ({"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": "tuesday"}},
         "metadata.creationTimestamp", "RFC 3339"),
        ({"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": 5}},
         "metadata.creationTimestamp", "expected RFC 3339 timestamp string"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": "x"}, "spec", "expected object"),
        ({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [None]}},
         "spec.containers[0]", "null"),
        ({"kind": "Pod"}, "apiVersion", "Required"),
        ({"apiVersion": "v1"}, "kind", "Required"),
        ({"apiVersion": "v1", "kind": 3}, "kind", "expected string"),
        ({"apiVersion": "v1", "kind": "ReplicationController"}, "kind",
         'no kind "ReplicationController"'),
        ({"apiVersion": "apps/v2", "kind": "Deployment"}, "apiVersion",
         'Deployment is served as apiVersion "apps/v1"'),
        ({"apiVersion": "v1", "kind": "ReplicationController"}, "kind",
         "Deployment (apps/v1)"),
    ],
)
def test_decode_errors(doc, path, fragment):
    with pytest.raises(DecodeError) as exc:
        codec.decode(doc)
    assert exc.value.path == path
    assert fragment in exc.value.message
    assert str(exc.value) == f"{path}: {exc.value.message}"


def test_not_a_mapping():
    with pytest.raises(DecodeError):
        codec.decode(["a"])
    with pytest.raises(DecodeError):
        codec.decode(None)


def test_nulls_are_absent():
    obj = codec.decode({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p",
                        "labels": None, "annotations": {"a": None}},
                        "spec": None, "status": None})
    assert not obj.pod.HasField("spec")
    assert obj.pod.metadata.annotations["a"] == ""


def test_timestamps():
    obj = codec.decode(load("""
apiVersion: v1
kind: Event
metadata: {name: e}
firstTimestamp: 2024-01-31T12:00:00Z
lastTimestamp: "2024-01-31T13:00:00.250+01:00"
"""))
    e = obj.event
    assert e.first_timestamp.seconds == 1706702400
    assert e.last_timestamp.seconds == 1706702400 and e.last_timestamp.nanos == 250_000_000
    out = codec.encode(obj)
    assert out["firstTimestamp"] == "2024-01-31T12:00:00Z"
    assert out["lastTimestamp"] == "2024-01-31T12:00:00Z"  # seconds, like Kubernetes
    exact = codec.encode(obj, precise=True)
    assert exact["lastTimestamp"] == "2024-01-31T12:00:00.250Z"
    assert codec.decode(exact) == obj
    run = codec.decode_message({"startedAt": "2024-01-31T12:00:00.123456789Z"},
                               core_pb2.ContainerStateRunning)
    assert run.started_at.nanos == 123456789  # type: ignore[attr-defined]
    naive = codec.decode_message({"startedAt": dt.datetime(2024, 1, 31, 12)},
                                 core_pb2.ContainerStateRunning)
    assert naive.started_at.seconds == 1706702400  # type: ignore[attr-defined]
    with pytest.raises(DecodeError):
        codec.decode_message({"startedAt": "2024-01-31T12:00:00"}, core_pb2.ContainerStateRunning)


def test_lease_micro_time():
    obj = codec.decode({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": "n1", "namespace": "corral-node-lease"},
                        "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40,
                                 "renewTime": "2024-01-31T12:00:00.123456Z",
                                 "acquireTime": "2024-01-31T12:00:00Z"}})
    out = codec.encode(obj)
    assert out["spec"]["renewTime"] == "2024-01-31T12:00:00.123456Z"
    assert out["spec"]["acquireTime"] == "2024-01-31T12:00:00.000000Z"
    assert codec.decode(out) == obj


def test_decode_message_path_prefix():
    with pytest.raises(DecodeError) as exc:
        codec.decode_message({"containers": [{"nam": "x"}]}, core_pb2.PodSpec, "spec")
    assert exc.value.path == "spec.containers[0].nam"
    sel = codec.decode_message({"matchLabels": {"a": "b"}}, meta_pb2.LabelSelector)
    assert isinstance(sel, meta_pb2.LabelSelector)


def test_encode_message_without_envelope():
    rs = apps_pb2.RollingUpdateDeployment()
    rs.max_surge.int_val = 0
    assert codec.encode(rs) == {"maxSurge": 0}


def test_encode_list():
    pod = core_pb2.Pod()
    pod.metadata.name = "a"
    lst = api_pb2.ObjectList(items=[kinds.wrap(pod)], resource_version="42")
    out = codec.encode_list(lst, full=False)
    assert out == {"apiVersion": "v1", "kind": "List",
                   "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}],
                   "metadata": {"resourceVersion": "42"}}
    assert codec.encode_list([kinds.wrap(pod)], full=False)["items"] == out["items"]
