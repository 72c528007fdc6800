"""The fields Kubernetes always writes (proto/codec/presence.py)."""

from __future__ import annotations

from proto import apps_pb2, codec, core_pb2, kinds


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
