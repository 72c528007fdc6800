"""Properties of the manifest codec: decode(encode(x)) == x, and arbitrary input gives
a DecodeError, never a crash."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proto import api_pb2, codec, core_pb2, kinds, meta_pb2
from proto.codec import DecodeError

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
