"""ConfigMaps and Secrets on a whole local cluster, through the real CLI: the Kubernetes
docs' examples (tests/e2e/k8sdocs/, images changed only) behave as the docs say,
etcd holds no Secret in plaintext, the key rotates while pods start, and a node's
credentials are refused for another node's Secret."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from localcluster.state import ClusterRecord, NodeRecord
from localcluster.up import etcd_ports
from proto import api_pb2, api_pb2_grpc
from tests.e2e.conftest import Cluster, down, up, wait_for
from tests.support.etcd import etcdctl

DOCS = Path(__file__).resolve().parent / "k8sdocs"
PASSWORD = "39528$vdg7Jb"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    name = "cfg" + secrets.token_hex(2)
    c = up(name, tmp_path_factory.mktemp("cluster"), nodes=2)
    try:
        yield c
    finally:
        left = down(c)
        assert not left, f"cluster down left: {left}"


def record(c: Cluster) -> ClusterRecord:
    raw = c.record()
    nodes = [NodeRecord(**n) for n in raw.pop("nodes", [])]
    return ClusterRecord(**raw, nodes=nodes)


def apply(c: Cluster, name: str, *args: str) -> None:
    c.corral("apply", "-f", str(DOCS / name), *args)


def pod(c: Cluster, name: str) -> dict[str, Any]:
    got: dict[str, Any] = c.json("get", "pod", name)
    return got


def finished(c: Cluster, name: str) -> str:
    """Wait for a restartPolicy Never pod to succeed; its log."""
    wait_for(lambda: pod(c, name)["status"].get("phase") == "Succeeded", 60, f"{name} done")
    return c.corral("logs", name)


def running(c: Cluster, name: str) -> None:
    def ok() -> bool:
        st = pod(c, name).get("status", {})
        return st.get("phase") == "Running" and all(
            x.get("ready") for x in st.get("containerStatuses", []))
    wait_for(ok, 90, f"{name} running")


def delete(c: Cluster, *what: str) -> None:
    c.corral("delete", *what, "--now", "--wait=true", "--timeout", "60s")


def test_configmap_task(cluster: Cluster) -> None:
    """Configure a Pod to Use a ConfigMap: env, envFrom, $(VAR), volumes."""
    apply(cluster, "configmaps.yaml")
    apply(cluster, "pod-single-configmap-env-variable.yaml")
    assert "SPECIAL_LEVEL_KEY=very" in finished(cluster, "dapi-test-pod").splitlines()
    delete(cluster, "pod", "dapi-test-pod")
    apply(cluster, "pod-multiple-configmap-env-variable.yaml")
    out = finished(cluster, "dapi-test-pod").splitlines()
    assert "SPECIAL_LEVEL_KEY=very" in out and "LOG_LEVEL=INFO" in out
    delete(cluster, "pod", "dapi-test-pod")
    delete(cluster, "configmap", "special-config")

    apply(cluster, "configmap-multikeys.yaml")
    apply(cluster, "pod-configmap-envFrom.yaml")
    out = finished(cluster, "dapi-test-pod").splitlines()
    assert "SPECIAL_LEVEL=very" in out and "SPECIAL_TYPE=charm" in out
    delete(cluster, "pod", "dapi-test-pod")
    apply(cluster, "pod-configmap-env-var-valueFrom.yaml")
    assert finished(cluster, "dapi-test-pod") == "very charm\n"
    delete(cluster, "pod", "dapi-test-pod")
    apply(cluster, "pod-configmap-volume.yaml")
    assert finished(cluster, "dapi-test-pod").split() == ["SPECIAL_LEVEL", "SPECIAL_TYPE"]
    delete(cluster, "pod", "dapi-test-pod")
    apply(cluster, "pod-configmap-volume-specific-key.yaml")
    assert finished(cluster, "dapi-test-pod").strip() == "very"
    described = cluster.corral("describe", "pod", "dapi-test-pod")
    assert "ConfigMap (a volume populated by a ConfigMap)" in described
    delete(cluster, "pod", "dapi-test-pod")
    delete(cluster, "configmap", "special-config", "env-config")


def test_missing_configmap_waits_with_the_kubelets_reason(cluster: Cluster) -> None:
    apply(cluster, "pod-single-configmap-env-variable.yaml")

    def waiting() -> dict[str, Any] | None:
        for cs in pod(cluster, "dapi-test-pod").get("status", {}).get("containerStatuses", []):
            w: dict[str, Any] | None = cs.get("state", {}).get("waiting")
            if w and w.get("reason") == "CreateContainerConfigError":
                return w
        return None
    w = wait_for(waiting, 60, "CreateContainerConfigError")
    assert w["message"] == 'configmap "special-config" not found'
    assert "CreateContainerConfigError" in cluster.corral("get", "pod", "dapi-test-pod")
    apply(cluster, "configmaps.yaml")
    assert "SPECIAL_LEVEL_KEY=very" in finished(cluster, "dapi-test-pod").splitlines()
    delete(cluster, "pod", "dapi-test-pod")
    delete(cluster, "configmap", "special-config", "env-config")


def test_secret_task(cluster: Cluster) -> None:
    """Distribute Credentials Securely Using Secrets: a volume, env, envFrom."""
    apply(cluster, "secret.yaml")
    apply(cluster, "secret-pod.yaml")
    running(cluster, "secret-test-pod")
    assert cluster.corral("exec", "secret-test-pod", "--", "ls", "/etc/secret-volume").split() \
        == ["password", "username"]
    assert cluster.corral("exec", "secret-test-pod", "--", "cat",
                          "/etc/secret-volume/username") == "my-app"
    assert cluster.corral("exec", "secret-test-pod", "--", "cat",
                          "/etc/secret-volume/password") == PASSWORD
    described = cluster.corral("describe", "secret", "test-secret")
    assert re.search(r"^password:\s+12 bytes$", described, re.M), described
    assert PASSWORD not in described
    delete(cluster, "pod", "secret-test-pod")
    delete(cluster, "secret", "test-secret")

    cluster.corral("create", "secret", "generic", "backend-user",
                   "--from-literal=backend-username=backend-admin")
    cluster.corral("create", "secret", "generic", "db-user",
                   "--from-literal=db-username=db-admin")
    apply(cluster, "pod-single-secret-env-variable.yaml")
    apply(cluster, "pod-multiple-secret-env-variable.yaml")
    cluster.corral("create", "secret", "generic", "test-secret",
                   "--from-literal=username=my-app", f"--from-literal=password={PASSWORD}")
    apply(cluster, "pod-secret-envFrom.yaml")
    for name in ("env-single-secret", "envvars-multiple-secrets", "envfrom-secret"):
        running(cluster, name)
    assert cluster.corral("exec", "env-single-secret", "--", "sh", "-c",
                          "echo $SECRET_USERNAME") == "backend-admin\n"
    assert cluster.corral("exec", "envvars-multiple-secrets", "--", "sh", "-c",
                          "echo $BACKEND_USERNAME $DB_USERNAME") == "backend-admin db-admin\n"
    assert cluster.corral("exec", "envfrom-secret", "--", "sh", "-c",
                          'echo "username: $username" "password: $password"') == \
        f"username: my-app password: {PASSWORD}\n"
    delete(cluster, "pod", "env-single-secret", "envvars-multiple-secrets", "envfrom-secret")


def test_downward_api_and_projected_volumes(cluster: Cluster) -> None:
    apply(cluster, "dapi-volume.yaml")
    name = "kubernetes-downwardapi-volume-example"
    running(cluster, name)
    wait_for(lambda: 'zone="us-est-coast"' in (out := cluster.corral("logs", name))
             and 'builder="john-doe"' in out, 30, "the labels and annotations printed")
    cluster.corral("label", "pod", name, "rack=rack-23", "--overwrite")
    wait_for(lambda: 'rack="rack-23"' in cluster.corral("exec", name, "--", "cat",
                                                         "/etc/podinfo/labels"),
             30, "the relabelled pod's labels file")
    delete(cluster, "pod", name)

    cluster.corral("create", "secret", "generic", "mysecret", "--from-literal=username=admin")
    cluster.corral("create", "configmap", "myconfigmap", "--from-literal=config=cfg-value")
    apply(cluster, "projected-secret-downwardapi-configmap.yaml")
    running(cluster, "volume-test")

    def cat(path: str) -> str:
        return cluster.corral("exec", "volume-test", "--", "cat", f"/projected-volume/{path}")
    assert cat("my-group/my-username") == "admin"
    assert cat("my-group/my-config") == "cfg-value"
    assert cat("cpu_limit").isdigit()
    delete(cluster, "pod", "volume-test")


def test_no_secret_in_etcd_in_plaintext(cluster: Cluster) -> None:
    cluster.corral("create", "secret", "generic", "at-rest", f"--from-literal=pw={PASSWORD}")
    endpoint = f"127.0.0.1:{etcd_ports(record(cluster))[0]}"
    raw = etcdctl(endpoint, "get", "/corral/secrets/", "--prefix")
    assert b"/corral/secrets/default/at-rest" in raw
    for form in (PASSWORD.encode(), base64.b64encode(PASSWORD.encode()), b"backend-admin"):
        assert form not in raw
    assert all(v.startswith(b"corral:enc:aesgcm:v1:") for v in stored_secrets(cluster))


def stored_secrets(cluster: Cluster) -> list[bytes]:
    """Every Secret's value as etcd holds it."""
    endpoint = f"127.0.0.1:{etcd_ports(record(cluster))[0]}"
    doc = json.loads(etcdctl(endpoint, "get", "/corral/secrets/", "--prefix", "-w", "json"))
    return [base64.b64decode(kv["value"]) for kv in doc.get("kvs", [])]


def test_key_rotation_while_pods_start(cluster: Cluster, tmp_path: Path) -> None:
    manifest = tmp_path / "rotating.yaml"
    manifest.write_text("""\
apiVersion: apps/v1
kind: Deployment
metadata: {name: rotating}
spec:
  replicas: 6
  selector: {matchLabels: {app: rotating}}
  template:
    metadata: {labels: {app: rotating}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: demo:latest
        env:
        - name: PW
          valueFrom: {secretKeyRef: {name: rotating, key: pw}}
        volumeMounts: [{name: s, mountPath: /etc/s}]
      volumes: [{name: s, secret: {secretName: rotating}}]
""")
    cluster.corral("create", "secret", "generic", "rotating", "--from-literal=pw=before")
    before = cluster.corral("secrets", "keys").splitlines()[1].split()[0]
    cluster.corral("apply", "-f", str(manifest))
    out = cluster.corral("secrets", "rotate-key")          # while the pods start
    assert "added as the primary key" in out
    wait_for(lambda: cluster.running("app=rotating", 6), 120, "6 pods running")
    for p in cluster.pods("app=rotating"):
        name = p["metadata"]["name"]
        assert cluster.corral("exec", name, "--", "cat", "/etc/s/pw") == "before"
    cluster.corral("secrets", "remove-key", before)
    values = stored_secrets(cluster)
    assert values and not [v for v in values
                           if v.startswith(f"corral:enc:aesgcm:v1:{before}:".encode())]
    cluster.corral("delete", "-f", str(manifest), "--timeout", "60s")


def test_a_nodes_credentials_are_refused_for_another_nodes_secret(cluster: Cluster) -> None:
    rec = record(cluster)
    n1, n2 = rec.nodes[0], rec.nodes[1]
    # pods pinned to each node that use that node's Secret
    for node, secret in ((n1, "for-node-1"), (n2, "for-node-2")):
        cluster.corral("create", "secret", "generic", secret, "--from-literal=k=v")
        doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pinned-{secret}"},
               "spec": {"nodeName": node.name, "containers": [{
                   "name": "app", "image": "demo:latest",
                   "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": secret,
                                                                       "key": "k"}}}]}]}}
        path = Path(rec.dir) / f"pinned-{secret}.json"
        path.write_text(json.dumps(doc))
        cluster.corral("apply", "-f", str(path))
    pki = Path(n1.data_dir) / "pki"
    creds = grpc.ssl_channel_credentials((pki / "ca.crt").read_bytes(),
                                         (pki / "node.key").read_bytes(),
                                         (pki / "node.crt").read_bytes())
    with grpc.secure_channel(rec.server, creds) as ch:
        stub = api_pb2_grpc.ApiStub(ch)
        got = stub.Get(api_pb2.GetRequest(resource="secrets", namespace="default",
                                          name="for-node-1"), timeout=10)
        assert got.secret.data["k"] == b"v"
        with pytest.raises(grpc.RpcError) as e:
            stub.Get(api_pb2.GetRequest(resource="secrets", namespace="default",
                                        name="for-node-2"), timeout=10)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert f'node "{n1.name}"' in (e.value.details() or "")
    delete(cluster, "pod", "pinned-for-node-1", "pinned-for-node-2")
