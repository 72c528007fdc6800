import datetime as dt
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
        ({"apiVersion": "v1", "kind": "Service"}, "kind", 'no kind "Service"'),
        ({"apiVersion": "apps/v2", "kind": "Deployment"}, "apiVersion",
         'Deployment is served as apiVersion "apps/v1"'),
        ({"apiVersion": "v1", "kind": "Service"}, "kind", "Deployment (apps/v1)"),
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


# ---- property: decode(encode(x)) == x ---------------------------------------

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
_text = st.text(max_size=12)
_qty = st.sampled_from(["100m", "1", "250m", "128Mi", "1Gi", "2", "0.5"])
_ios = st.one_of(st.integers(0, 65535).map(lambda i: meta_pb2.IntOrString(int_val=i)),
                 _names.map(lambda s: meta_pb2.IntOrString(str_val=s)))


@st.composite
def _probe(draw):
    p = core_pb2.Probe()
    which = draw(st.sampled_from(["exec", "http", "tcp"]))
    if which == "exec":
        p.exec.command.extend(draw(st.lists(_text, min_size=1, max_size=3)))
    elif which == "http":
        p.http_get.path = draw(st.sampled_from(["/", "/healthz", ""]))
        p.http_get.port.CopyFrom(draw(_ios))
    else:
        p.tcp_socket.port.CopyFrom(draw(_ios))
    p.period_seconds = draw(st.integers(0, 100))
    if draw(st.booleans()):
        p.termination_grace_period_seconds = draw(st.integers(0, 100))
    return p


@st.composite
def _container(draw):
    c = core_pb2.Container(name=draw(_names), image=draw(_text))
    c.command.extend(draw(st.lists(_text, max_size=3)))
    for _ in range(draw(st.integers(0, 2))):
        c.ports.add(container_port=draw(st.integers(0, 65535)),
                    protocol=draw(st.sampled_from(["", "TCP", "UDP"])))
    for _ in range(draw(st.integers(0, 2))):
        c.env.add(name=draw(_names), value=draw(_text))
    c.resources.limits.update(draw(st.dictionaries(st.sampled_from(["cpu", "memory"]), _qty)))
    c.resources.requests.update(draw(st.dictionaries(st.sampled_from(["cpu", "memory"]), _qty)))
    if draw(st.booleans()):
        c.liveness_probe.CopyFrom(draw(_probe()))
    if draw(st.booleans()):
        c.security_context.privileged = draw(st.booleans())
    c.stdin = draw(st.booleans())
    return c


@st.composite
def _pods(draw):
    p = core_pb2.Pod(api_version="v1", kind="Pod")
    p.metadata.name = draw(_names)
    p.metadata.namespace = draw(st.sampled_from(["", "default"]))
    p.metadata.labels.update(draw(st.dictionaries(_names, _names, max_size=3)))
    p.metadata.generation = draw(st.integers(0, 2**62))
    if draw(st.booleans()):
        p.metadata.creation_timestamp.seconds = draw(st.integers(0, 2**32))
        p.metadata.creation_timestamp.nanos = draw(st.sampled_from([0, 5000, 123456789]))
    if draw(st.booleans()):
        p.metadata.deletion_grace_period_seconds = draw(st.integers(0, 60))
    p.spec.containers.extend(draw(st.lists(_container(), min_size=1, max_size=3)))
    if draw(st.booleans()):
        v = p.spec.volumes.add(name=draw(_names))
        v.empty_dir.SetInParent()
    p.spec.restart_policy = draw(st.sampled_from(["", "Always", "Never"]))
    if draw(st.booleans()):
        p.spec.termination_grace_period_seconds = draw(st.integers(0, 600))
    p.spec.node_selector.update(draw(st.dictionaries(_names, _names, max_size=2)))
    p.status.phase = draw(st.sampled_from(["", "Pending", "Running"]))
    if draw(st.booleans()):
        cs = p.status.container_statuses.add(name="c", restart_count=draw(st.integers(0, 9)))
        cs.state.terminated.exit_code = draw(st.integers(-(2**31), 2**31 - 1))
    return p


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pods())
def test_roundtrip_property(pod):
    obj = kinds.wrap(pod)
    encoded = codec.encode(obj, precise=True)
    # equal but for empty structs Kubernetes always writes (`status {}` reads back unset)
    assert codec.encode(codec.decode(encoded), precise=True, full=True) == \
        codec.encode(obj, precise=True, full=True)
    # and through JSON text
    assert codec.decode(json.loads(json.dumps(encoded))) == codec.decode(encoded)
    # the default (seconds) form differs at most in sub-second timestamps
    trimmed = api_pb2.Object()
    trimmed.CopyFrom(obj)
    if obj.pod.metadata.HasField("creation_timestamp"):
        trimmed.pod.metadata.creation_timestamp.nanos = 0
    assert codec.encode(codec.decode(codec.encode(obj)), precise=True, full=True) == \
        codec.encode(trimmed, precise=True, full=True)


# ---- property: arbitrary input gives a DecodeError, never a crash -----------

_POD_KEYS = ["apiVersion", "kind", "metadata", "spec", "status", "name", "labels",
             "containers", "image", "ports", "containerPort", "resources", "limits", "cpu",
             "livenessProbe", "httpGet", "port", "volumes", "emptyDir", "sizeLimit",
             "creationTimestamp", "terminationGracePeriodSeconds", "bogus"]
_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                  st.floats(allow_nan=True), st.text(max_size=5),
                  st.sampled_from(["v1", "Pod", "2024-01-01T00:00:00Z", "1Gi", "25%"]))
_tree = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(_POD_KEYS), st.integers(0, 3)), children,
                        max_size=4)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_tree)
def test_decode_never_crashes(doc):
    for target in (core_pb2.Pod, core_pb2.PodSpec, core_pb2.Container):
        try:
            msg = codec.decode_message(doc, target)
        except DecodeError as e:
            assert isinstance(e.path, str) and e.message
        else:
            if isinstance(msg, core_pb2.Pod):  # encode fills apiVersion and kind
                msg.api_version, msg.kind = "v1", "Pod"
            assert codec.decode_message(codec.encode(msg, precise=True), target) == msg
    try:
        codec.decode(doc)
    except DecodeError:
        pass


def test_encode_list():
    pod = core_pb2.Pod()
    pod.metadata.name = "a"
    lst = api_pb2.ObjectList(items=[kinds.wrap(pod)], resource_version="42")
    out = codec.encode_list(lst, full=False)
    assert out == {"apiVersion": "v1", "kind": "List",
                   "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}],
                   "metadata": {"resourceVersion": "42"}}
    assert codec.encode_list([kinds.wrap(pod)], full=False)["items"] == out["items"]


def test_fields_kubernetes_always_writes_are_there():
    """restartCount: 0, ready: false, lastProbeTime: null... as kubectl shows them."""
    pod = core_pb2.Pod()
    pod.metadata.name = "p"
    pod.spec.containers.add(name="c")
    pod.status.container_statuses.add(name="c")
    pod.status.conditions.add(type="Ready", status="False")
    out = codec.encode(pod)
    cs = out["status"]["containerStatuses"][0]
    assert (cs["ready"], cs["restartCount"], cs["image"], cs["imageID"]) == (False, 0, "", "")
    assert cs["state"] == {} and cs["lastState"] == {}
    assert out["status"]["conditions"][0]["lastProbeTime"] is None
    assert out["spec"]["containers"][0]["resources"] == {}
    assert out["metadata"]["creationTimestamp"] is None
    node = codec.encode(core_pb2.Node())
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    assert node["status"]["nodeInfo"]["kubeletVersion"] == ""
    deploy = codec.encode(kinds.wrap(apps_pb2.Deployment()))
    assert deploy["spec"]["selector"] is None           # a pointer: null, like Go's nil
    assert deploy["spec"]["template"]["metadata"] == {"creationTimestamp": None}
    # and it reads back as the same object: {} of such a struct is the struct unset
    pod.api_version, pod.kind = "v1", "Pod"
    back = codec.decode(codec.encode(kinds.wrap(pod)))
    assert back == kinds.wrap(pod)
    assert not back.pod.status.container_statuses[0].HasField("state")
