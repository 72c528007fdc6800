"""Manifests of the workload and volume kinds in the style of the Kubernetes docs'
examples (images changed to the demo image), shared by the unit tests."""

from __future__ import annotations

import copy
from typing import Any

from controlplane.apiserver.defaults import apply_defaults
from controlplane.apiserver.validation import validate
from proto import api_pb2, codec

JOB: dict[str, Any] = {
    "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
    "spec": {"backoffLimit": 4, "template": {"spec": {
        "containers": [{"name": "pi", "image": "demo:latest",
                        "command": ["sh", "-c", "echo 3.14159"]}],
        "restartPolicy": "Never"}}},
}

CRONJOB: dict[str, Any] = {
    "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "hello"},
    "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "hello", "image": "demo:latest", "imagePullPolicy":
                        "IfNotPresent", "command": ["/bin/sh", "-c", "date; echo Hello"]}],
        "restartPolicy": "OnFailure"}}}}},
}

DAEMONSET: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "fluentd-elasticsearch", "namespace": "kube-system",
                 "labels": {"k8s-app": "fluentd-logging"}},
    "spec": {"selector": {"matchLabels": {"name": "fluentd-elasticsearch"}},
             "template": {"metadata": {"labels": {"name": "fluentd-elasticsearch"}},
                          "spec": {"tolerations": [
                              {"key": "node-role.kubernetes.io/control-plane",
                               "operator": "Exists", "effect": "NoSchedule"}],
                              "containers": [{"name": "fluentd", "image": "demo:latest",
                                              "resources": {"limits": {"memory": "200Mi"}}}],
                              "terminationGracePeriodSeconds": 30}}},
}

STATEFULSET: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "nginx"}}, "serviceName": "nginx",
        "replicas": 3, "minReadySeconds": 10,
        "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {
            "terminationGracePeriodSeconds": 10,
            "containers": [{"name": "nginx", "image": "demo:latest",
                            "ports": [{"containerPort": 80, "name": "web"}],
                            "volumeMounts": [{"name": "www",
                                              "mountPath": "/usr/share/nginx/html"}]}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": "my-storage-class",
            "resources": {"requests": {"storage": "1Gi"}}}}],
    },
}

PVC: dict[str, Any] = {
    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "myclaim"},
    "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
             "resources": {"requests": {"storage": "8Gi"}}},
}

PV: dict[str, Any] = {
    "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "example-pv"},
    "spec": {"capacity": {"storage": "100Gi"}, "volumeMode": "Filesystem",
             "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete",
             "storageClassName": "local-storage", "local": {"path": "/mnt/disks/ssd1"},
             "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                 {"key": "kubernetes.io/hostname", "operator": "In",
                  "values": ["example-node"]}]}]}}},
}

STORAGECLASS: dict[str, Any] = {
    "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
    "metadata": {"name": "local-storage"},
    "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer",
}


def build(doc: dict[str, Any], uid: str = "0b5f-uid") -> api_pb2.Object:
    """Decoded and defaulted as the API server would on create."""
    obj = codec.decode(copy.deepcopy(doc))
    meta = getattr(obj, obj.WhichOneof("kind") or "").metadata
    meta.uid = uid
    apply_defaults(obj)
    return obj


def errors_of(doc: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, str]:
    errs = validate(build(doc), build(old) if old is not None else None)
    return {e.path: e.message for e in errs}
