"""Kubernetes protobuf bodies read as the JSON documents they stand for: bodies the real
kubectl sent (bodies/, from `kubectl create namespace|deployment|configmap|secret`), the
special values, and what is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proto import codec, wire
from proto.kubepb_core_pb2 import Pod
from proto.kubepb_meta_pb2 import Unknown
from tests.unit.wire.wireform import body

BODIES = Path(__file__).parent / "bodies"

# What kubectl was asked for, as a JSON manifest says it
SENT_BY_KUBECTL: dict[str, dict[str, Any]] = {
    # kubectl create namespace tutorial
    "namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tutorial"}},
    # kubectl create deployment web -n tutorial --image=registry.example/web:1.0
    #   --replicas=3 --port=8080 -- sleep 3600
    "deployment": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "tutorial", "labels": {"app": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": {},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{
                                  "name": "web", "image": "registry.example/web:1.0",
                                  "command": ["sleep", "3600"],
                                  "ports": [{"containerPort": 8080}], "resources": {}}]}}},
        "status": {}},
    # kubectl create configmap settings -n tutorial --from-literal=mode=fast
    #   --from-file=f.txt   (f.txt holds "hello\n")
    "configmap": {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "settings", "namespace": "tutorial"},
                  "data": {"mode": "fast", "f.txt": "hello\n"}},
    # kubectl create secret generic creds -n tutorial --from-literal=password='s3cr&t'
    "secret": {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": "creds", "namespace": "tutorial"},
               "data": {"password": "czNjciZ0"}},
}


@pytest.mark.parametrize("name", sorted(SENT_BY_KUBECTL))
def test_what_kubectl_sent_reads_as_its_json_manifest(name: str) -> None:
    doc = wire.to_json((BODIES / f"{name}.pb").read_bytes())
    assert codec.decode(doc) == codec.decode(SENT_BY_KUBECTL[name])


POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"},
                 "creationTimestamp": "2024-01-31T12:00:00Z",
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                      "name": "rs", "uid": "u-1", "controller": True}],
                 "managedFields": [{"manager": "kubectl", "operation": "Update",
                                    "apiVersion": "v1", "fieldsType": "FieldsV1",
                                    "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}}}}}]},
    "spec": {
        "terminationGracePeriodSeconds": 0,
        "volumes": [{"name": "cfg", "configMap": {"name": "settings", "optional": False,
                                                  "items": [{"key": "k", "path": "p"}]}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        "containers": [{
            "name": "c", "image": "demo",
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds",
                                                                  "key": "password"}}}],
            "livenessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
            "readinessProbe": {"tcpSocket": {"port": 8080}},
            "securityContext": {"runAsUser": 0, "privileged": False}}]},
}


def test_special_values_inlined_structs_and_explicit_zeros() -> None:
    doc = wire.to_json(body(POD))
    spec = doc["spec"]
    assert doc["metadata"]["creationTimestamp"] == "2024-01-31T12:00:00Z"
    assert doc["metadata"]["managedFields"][0]["fieldsV1"] == \
        {"f:metadata": {"f:labels": {"f:a": {}}}}
    assert spec["volumes"][0]["configMap"]["name"] == "settings"     # LocalObjectReference
    assert spec["volumes"][1]["emptyDir"]["sizeLimit"] == "64Mi"     # Quantity
    c = spec["containers"][0]
    assert c["livenessProbe"]["httpGet"]["port"] == "http"           # ProbeHandler, IntOrString
    assert c["readinessProbe"]["tcpSocket"]["port"] == 8080
    assert c["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "creds", "key": "password"}
    # a pointer set to zero stays set (runAsUser 0 is root, not "unset")
    assert c["securityContext"] == {"runAsUser": 0, "privileged": False}
    assert spec["terminationGracePeriodSeconds"] == 0
    assert codec.decode(doc) == codec.decode(POD)


def _raw_body(kind: str, raw: bytes, api_version: str = "v1") -> bytes:
    envelope = Unknown(raw=raw)
    envelope.typeMeta.apiVersion, envelope.typeMeta.kind = api_version, kind
    return b"k8s\x00" + envelope.SerializeToString()


def test_a_field_corral_does_not_serve_is_refused_where_it_is_set() -> None:
    pod = Pod()
    pod.metadata.name = "p"
    pod.spec.containers.add(name="c", image="demo")
    raw = pod.SerializeToString()
    # PodSpec field 12 (hostPID, not served by corral): a zero is what Go writes for an
    # unset plain field, and is ignored; true is refused, naming the place
    spec_zero = b"\x12" + bytes([len(b"\x60\x00")]) + b"\x60\x00"
    assert wire.to_json(_raw_body("Pod", raw + spec_zero))["spec"]["containers"]
    spec_set = b"\x12\x02\x60\x01"
    with pytest.raises(codec.DecodeError) as e:
        wire.to_json(_raw_body("Pod", raw + spec_set))
    assert str(e.value) == ("spec: field number 12 of Kubernetes' PodSpec is set, and corral "
                            "does not serve that field")


def test_bodies_that_are_not_kubernetes_protobuf() -> None:
    with pytest.raises(codec.DecodeError, match='does not start with "k8s'):
        wire.to_json(b'{"kind": "Pod"}')
    with pytest.raises(codec.DecodeError, match="envelope does not parse"):
        wire.to_json(b"k8s\x00\xff\xff\xff")
    with pytest.raises(codec.DecodeError, match="Pod in the body does not parse"):
        wire.to_json(_raw_body("Pod", b"\x0a\x05ab"))
    with pytest.raises(codec.DecodeError, match="names no kind"):
        wire.to_json(_raw_body("", b""))
    with pytest.raises(wire.Unsupported, match="v1 Ingress is not served"):
        wire.to_json(_raw_body("Ingress", b"", "networking.k8s.io/v1"))


def test_delete_options_come_in_any_group_version() -> None:
    from proto.kubepb_meta_pb2 import DeleteOptions

    opts = DeleteOptions(gracePeriodSeconds=0, propagationPolicy="Foreground", dryRun=["All"])
    opts.preconditions.uid = "u-1"
    doc = wire.to_json(_raw_body("DeleteOptions", opts.SerializeToString(), "apps/v1"))
    assert doc == {"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                   "preconditions": {"uid": "u-1"}, "propagationPolicy": "Foreground",
                   "dryRun": ["All"]}


def test_services_and_endpoint_slices_have_their_wire_form() -> None:
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "labels": {"app": "web"}},
           "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80,
                               "targetPort": 8080}, {"name": "dns", "port": 53,
                                                     "targetPort": "dns"}],
                    "selector": {"app": "web"}, "type": "ClusterIP",
                    "clusterIPs": ["10.96.0.10"]}}
    assert wire.to_json(body(svc)) == svc
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "web-abc"}, "addressType": "IPv4",
              "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": False},
                             "targetRef": {"kind": "Pod", "name": "web-1"}}],
              "ports": [{"name": "http", "port": 8080}]}
    assert wire.to_json(body(slice_)) == slice_
