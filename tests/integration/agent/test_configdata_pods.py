"""ConfigMaps and Secrets in pods on a real agent: the kubelet's waiting reason until a
ConfigMap exists, a live update seen from inside a running container with no torn
read, subPath left alone, Secret volumes on tmpfs, and imagePullSecrets against a
registry with htpasswd auth."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proto import agent_pb2, api_pb2, codec

from .conftest import Cluster, wait_for

SIZE = 64 * 1024        # the file a reader checks: one version's digit, SIZE times
# the container reads the mounted file over and over; any content that is not one
# whole version (SIZE bytes of a single digit) is a torn read
READER = f"""
while true; do
  c=$(cat /etc/config/payload)
  n=${{#c}}
  first=$(echo "$c" | busybox head -c 1)
  rest=$(echo "$c" | busybox tr -d "$first")
  if [ "$n" != {SIZE} ] || [ -n "$rest" ]; then echo "TORN $n"; fi
  echo "$first" > /tmp/seen
done
"""


def create(cluster: Cluster, doc: dict[str, Any]) -> None:
    doc.setdefault("apiVersion", "v1")
    doc["metadata"].setdefault("namespace", "default")
    cluster.api.Create(api_pb2.CreateRequest(object=codec.decode(doc)), timeout=10)


def update(cluster: Cluster, doc: dict[str, Any]) -> None:
    doc.setdefault("apiVersion", "v1")
    doc["metadata"].setdefault("namespace", "default")
    cluster.api.Update(api_pb2.UpdateRequest(object=codec.decode(doc)), timeout=10)


def pod(cluster: Cluster, name: str, script: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "app", "image": cluster.image, "imagePullPolicy": "Never",
                 "command": ["sh", "-c", script], **spec.pop("container", {})}
    return {"kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": cluster.agent.node, "terminationGracePeriodSeconds": 1,
                     "containers": [container], **spec}}


def state(cluster: Cluster, name: str) -> Any:
    cluster.agent.check_alive()
    obj = cluster.get_pod(name)
    if obj is None or not obj.pod.status.container_statuses:
        return None
    return obj.pod.status.container_statuses[0].state


def exec_out(cluster: Cluster, name: str, *command: str) -> str:
    def inputs() -> Iterator[agent_pb2.ExecInput]:
        yield agent_pb2.ExecInput(start=agent_pb2.ExecStart(
            namespace="default", pod=name, command=list(command)))
    out = b""
    for chunk in cluster.api.Exec(inputs(), timeout=20):
        if chunk.WhichOneof("output") == "stdout":
            out += chunk.stdout
    return out.decode()


def delete_pods(cluster: Cluster, *names: str) -> None:
    """Delete the test's pods and wait until the agent cleaned them up."""
    for name in names:
        cluster.api.Delete(api_pb2.DeleteRequest(resource="pods", namespace="default",
                                                 name=name), timeout=10)
    wait_for(lambda: all(cluster.get_pod(n) is None for n in names), 60, "pods deleted",
             cluster.agent.log)


def logs(cluster: Cluster, name: str) -> str:
    return b"".join(c.data for c in cluster.api.Logs(
        agent_pb2.LogsRequest(namespace="default", pod=name), timeout=20)).decode()


def test_configmaps_and_secrets_in_running_pods(cluster: Cluster) -> None:
    log = cluster.agent.log
    # env from a ConfigMap that does not exist yet: the kubelet's waiting reason
    create(cluster, pod(cluster, "waits", "echo level=$LEVEL; exec sleep 100000", container={
        "env": [{"name": "LEVEL", "valueFrom": {"configMapKeyRef": {
            "name": "late-config", "key": "level"}}}]}))
    waiting = wait_for(lambda: (s := state(cluster, "waits")) and s.HasField("waiting")
                       and s.waiting.reason == "CreateContainerConfigError" and s.waiting,
                       60, "CreateContainerConfigError", log)
    assert waiting.message == 'configmap "late-config" not found'
    create(cluster, {"kind": "ConfigMap", "metadata": {"name": "late-config"},
                     "data": {"level": "very"}})
    wait_for(lambda: (s := state(cluster, "waits")) and s.HasField("running"), 30,
             "the pod started once the ConfigMap exists", log)
    wait_for(lambda: "level=very" in logs(cluster, "waits"), 10, "the env value", log)

    # a mounted ConfigMap updated while a reader runs; a Secret volume on tmpfs
    create(cluster, {"kind": "ConfigMap", "metadata": {"name": "live"},
                     "data": {"payload": "0" * SIZE, "single": "first"}})
    create(cluster, {"kind": "Secret", "metadata": {"name": "creds"},
                     "stringData": {"password": "hunter2"}})
    create(cluster, pod(cluster, "reader", READER, container={"volumeMounts": [
        {"name": "config", "mountPath": "/etc/config"},
        {"name": "config", "mountPath": "/etc/single", "subPath": "single"},
        {"name": "creds", "mountPath": "/etc/creds"}]}, volumes=[
        {"name": "config", "configMap": {"name": "live"}},
        {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}}]))
    wait_for(lambda: (s := state(cluster, "reader")) and s.HasField("running"), 60,
             "the reader running", log)
    assert exec_out(cluster, "reader", "cat", "/etc/creds/password") == "hunter2"
    assert exec_out(cluster, "reader", "busybox", "stat", "-c", "%a",
                    "/etc/creds/..data/password").strip() == "400"
    mounts = exec_out(cluster, "reader", "cat", "/proc/mounts").splitlines()
    assert any(m.split()[1] == "/etc/creds" and m.split()[2] == "tmpfs" and
               "ro" in m.split()[3].split(",") for m in mounts), mounts
    assert exec_out(cluster, "reader", "sh", "-c", "echo x > /etc/config/new 2>&1 || "
                    "echo refused").strip().endswith("refused")
    uid = cluster.get_pod("reader").pod.metadata.uid       # type: ignore[union-attr]
    with open("/proc/mounts") as f:
        host = [line.split() for line in f if f"{uid}/volumes/creds" in line]
    assert host and host[0][2] == "tmpfs"                  # not on the node's disk either
    for i in range(1, 11):
        d = str(i % 10)
        update(cluster, {"kind": "ConfigMap", "metadata": {"name": "live"},
                         "data": {"payload": d * SIZE, "single": f"v{i}"}})
        wait_for(lambda d=d: exec_out(cluster, "reader", "cat", "/tmp/seen").strip() == d,
                 15, f"version {d} seen inside the container", log)
    assert "TORN" not in logs(cluster, "reader")
    assert exec_out(cluster, "reader", "cat", "/etc/config/single") == "v10"
    assert exec_out(cluster, "reader", "cat", "/etc/single") == "first"   # subPath: no update
    assert state(cluster, "reader").HasField("running")
    assert cluster.get_pod("reader").pod.status.container_statuses[0].restart_count == 0  # type: ignore[union-attr]
    delete_pods(cluster, "waits", "reader")


@pytest.fixture
def private_registry(cluster: Cluster) -> Iterator[Any]:
    from tests.integration.images.conftest import Registry
    if not os.path.exists("/usr/bin/docker-registry"):
        pytest.skip("no docker-registry")
    reg = Registry(htpasswd={"robot": "pa55word"}, addr=cluster.agent.netns.host_ip)
    try:
        yield reg
    finally:
        reg.stop()


def test_image_pull_secrets(cluster: Cluster, private_registry: Any, tmp_path: Path) -> None:
    from agent.images import ImageService
    from tests.integration.agent.conftest import busybox_rootfs

    host = private_registry.host
    image = f"{host}/private/busybox:1"
    builder = ImageService(str(tmp_path / "builder"), {"registries": {host: {
        "username": "robot", "password": "pa55word", "insecure": True}}})
    builder.import_rootfs(str(busybox_rootfs(tmp_path / "rootfs")), image)
    builder.push(image)
    agent = cluster.agent
    agent.stop()                       # the registry speaks plain HTTP: tell the agent
    agent.security += ["--insecure-registry", host]
    agent.start()
    auth = base64.b64encode(b"robot:pa55word").decode()
    create(cluster, {"kind": "Secret", "metadata": {"name": "regcred"},
                     "type": "kubernetes.io/dockerconfigjson",
                     "stringData": {".dockerconfigjson": json.dumps(
                         {"auths": {host: {"auth": auth}}})}})
    for name, secrets in (("with-secret", [{"name": "regcred"}]), ("without", [])):
        doc = pod(cluster, name, "exec sleep 100000", container={
            "image": image, "imagePullPolicy": "Always"})
        doc["spec"]["imagePullSecrets"] = secrets
        create(cluster, doc)
    wait_for(lambda: (s := state(cluster, "with-secret")) and s.HasField("running"), 90,
             "the pod with the pull secret running", agent.log)
    waiting = wait_for(lambda: (s := state(cluster, "without")) and s.HasField("waiting")
                       and s.waiting.reason in ("ErrImagePull", "ImagePullBackOff")
                       and s.waiting, 60, "the pod without it refused", agent.log)
    assert "credentials" in waiting.message or "401" in waiting.message
    assert "pa55word" not in agent.log() and auth not in agent.log()
    delete_pods(cluster, "with-secret", "without")
