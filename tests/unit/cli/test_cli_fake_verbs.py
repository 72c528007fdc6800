"""The CLI end to end against an in-memory Api servicer on a real gRPC server: scale,
set image, rollout, cordon/drain, label, logs/exec, version/top, client errors,
label columns. apply/get/describe/delete: test_cli_fake.py."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from corral import errors
from corral.client import Client
from proto import api_pb2, apps_pb2, core_pb2, kinds
from tests.unit.cli.conftest import Result, Runner
from tests.unit.cli.fake_api import FakeServer
from tests.unit.cli.samples import PODS, write


def make_deployment(corral: Runner) -> api_pb2.Object:
    d = apps_pb2.Deployment()
    d.metadata.name = "web"
    d.metadata.namespace = "default"
    d.spec.replicas = 3
    d.spec.selector.match_labels["app"] = "web"
    d.spec.template.metadata.labels["app"] = "web"
    d.spec.template.spec.containers.add(name="web", image="nginx:2")
    stored = corral.api.put(kinds.wrap(d))
    for rev, image in ((1, "nginx:1"), (2, "nginx:2")):
        rs = apps_pb2.ReplicaSet()
        rs.metadata.name = f"web-{rev}"
        rs.metadata.namespace = "default"
        rs.metadata.annotations["deployment.kubernetes.io/revision"] = str(rev)
        rs.metadata.owner_references.add(kind="Deployment", name="web", controller=True,
                                         uid=stored.deployment.metadata.uid)
        rs.spec.template.CopyFrom(d.spec.template)
        rs.spec.template.metadata.labels["pod-template-hash"] = str(rev)
        rs.spec.template.spec.containers[0].image = image
        corral.api.put(kinds.wrap(rs))
    return stored


def test_scale_set_image_restart_pause(corral: Runner) -> None:
    make_deployment(corral)
    key = ("deployments", "default", "web")
    assert corral("scale", "deploy/web", "--replicas", "5").out == "deployment.apps/web scaled\n"
    assert corral.api.objects[key].deployment.spec.replicas == 5
    r = corral("set", "image", "deploy/web", "web=nginx:3")
    assert r.out == "deployment.apps/web image updated\n"
    assert corral.api.objects[key].deployment.spec.template.spec.containers[0].image == "nginx:3"
    assert corral("set", "image", "deploy/web", "nope=x").code == 1
    assert corral("rollout", "restart", "deploy/web").out == "deployment.apps/web restarted\n"
    ann = corral.api.objects[key].deployment.spec.template.metadata.annotations
    assert "kubectl.kubernetes.io/restartedAt" in ann
    assert corral("rollout", "pause", "deploy/web").out == "deployment.apps/web paused\n"
    r = corral("rollout", "pause", "deploy/web")
    assert r.code == 1 and "already paused" in r.err
    assert corral("rollout", "resume", "deploy/web").out == "deployment.apps/web resumed\n"


def test_rollout_history_and_undo(corral: Runner) -> None:
    make_deployment(corral)
    r = corral("rollout", "history", "deploy/web")
    assert r.out.splitlines()[0] == "deployment.apps/web "
    assert [ln.split()[0] for ln in r.out.splitlines()[1:] if ln] == ["REVISION", "1", "2"]
    r = corral("rollout", "history", "deploy/web", "--revision", "1")
    assert "nginx:1" in r.out
    r = corral("rollout", "undo", "deploy/web")
    assert r.out == "deployment.apps/web rolled back\n"
    tmpl = corral.api.objects[("deployments", "default", "web")].deployment.spec.template
    assert tmpl.spec.containers[0].image == "nginx:1"
    assert "pod-template-hash" not in tmpl.metadata.labels
    r = corral("rollout", "undo", "deploy/web", "--to-revision", "1")
    assert "skipped rollback" in r.out
    assert corral("rollout", "undo", "deploy/web", "--to-revision", "7").code == 1


def test_rollout_status_waits_with_a_watch(corral: Runner) -> None:
    stored = make_deployment(corral)
    result: list[Result] = []
    t = threading.Thread(target=lambda: result.append(
        corral("rollout", "status", "deploy/web", "--timeout", "20s")))
    t.start()
    assert corral.api.watch_started.wait(10)
    d = api_pb2.Object()
    d.CopyFrom(stored)
    d.deployment.status.observed_generation = d.deployment.metadata.generation
    d.deployment.status.replicas = 3
    d.deployment.status.updated_replicas = 3
    d.deployment.status.available_replicas = 1
    corral.api.put(d)
    d.deployment.status.available_replicas = 3
    corral.api.put(d)
    t.join(20)
    (r,) = result
    assert r.code == 0
    assert r.out.splitlines() == [
        "Waiting for deployment spec update to be observed...",
        'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are '
        "available...",
        'deployment "web" successfully rolled out',
    ]


def add_node_and_pods(corral: Runner) -> None:
    n = core_pb2.Node()
    n.metadata.name = "node-1"
    n.status.conditions.add(type="Ready", status="True")
    corral.api.put(kinds.wrap(n))
    for name, owned in (("managed", True), ("bare", False)):
        p = core_pb2.Pod()
        p.metadata.name = name
        p.metadata.namespace = "default"
        p.spec.node_name = "node-1"
        p.spec.containers.add(name="c", image="busybox")
        if owned:
            p.metadata.owner_references.add(kind="ReplicaSet", name="rs", uid="u",
                                             controller=True)
        corral.api.put(kinds.wrap(p))


def test_cordon_uncordon_drain(corral: Runner) -> None:
    add_node_and_pods(corral)
    key = ("nodes", "", "node-1")
    assert corral("cordon", "node-1").out == "node/node-1 cordoned\n"
    assert corral.api.objects[key].node.spec.unschedulable
    assert corral("cordon", "node-1").out == "node/node-1 already cordoned\n"
    assert corral("get", "nodes").out.splitlines()[1].split()[1] == "Ready,SchedulingDisabled"
    assert corral("uncordon", "node-1").out == "node/node-1 uncordoned\n"
    r = corral("drain", "node-1")
    assert r.code == 1
    assert "cannot delete Pods that declare no controller (use --force to override): " \
           "default/bare" in r.err
    assert ("pods", "default", "managed") in corral.api.objects
    r = corral("drain", "node-1", "--force")
    assert r.code == 0
    assert "evicting pod default/managed" in r.out and "pod/bare evicted" in r.out
    assert r.out.endswith("node/node-1 drained\n")
    assert not [k for k in corral.api.objects if k[0] == "pods"]


def test_label_and_annotate(corral: Runner, tmp_path: Path) -> None:
    corral("apply", "-f", write(tmp_path, "p.yaml", PODS.split("---")[0]))
    key = ("pods", "default", "web")
    assert corral("label", "pods", "web", "tier=fe").out == "pod/web labeled\n"
    r = corral("label", "pods", "web", "tier=be")
    assert r.code == 1 and "--overwrite is false" in r.err
    assert corral("label", "--overwrite", "pod/web", "tier=be").code == 0
    assert corral.api.objects[key].pod.metadata.labels["tier"] == "be"
    assert corral("label", "pods", "web", "tier-").code == 0
    assert "tier" not in corral.api.objects[key].pod.metadata.labels
    assert corral("annotate", "pods", "web", "note=hi").out == "pod/web annotated\n"
    assert corral.api.objects[key].pod.metadata.annotations["note"] == "hi"


def test_logs_and_exec(corral: Runner) -> None:
    corral.api.logs[("default", "web")] = b"one\ntwo\nthree\n"
    assert corral("logs", "web").out == "one\ntwo\nthree\n"
    assert corral("logs", "web", "--tail", "1").out == "three\n"
    r = corral("logs", "nope")
    assert r.code == 1 and "NotFound" in r.err
    r = corral("exec", "web", "-c", "main", "--", "echo", "-n", "hi")
    assert (r.code, r.out, r.err) == (0, "echo -n hi\n", "warn\n")
    start = corral.api.exec_calls[-1]
    assert (start.pod, start.container, list(start.command)) == ("web", "main",
                                                                 ["echo", "-n", "hi"])
    r = corral("exec", "web", "--", "false")
    assert r.code == 3 and "command terminated with exit code 3" in r.err
    assert corral("exec", "web").code == 1


def test_version_api_resources_top_images(corral: Runner) -> None:
    r = corral("version")
    assert r.out.splitlines()[1] == "Server Version: v9.9.9"
    assert r.out.startswith("Client Version: v")
    r = corral("api-resources")
    assert r.out.splitlines()[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED",
                                             "KIND"]
    assert any(ln.split()[:2] == ["pods", "po"] for ln in r.out.splitlines())
    corral.api.top.nodes.add(name="node-1", cpu_usage_nano_cores=250_000_000,
                             memory_working_set_bytes=512 << 20,
                             memory_capacity_bytes=2048 << 20, cpu_capacity_cores=2)
    corral.api.top.pods.add(namespace="default", name="web").containers.add(
        name="c", cpu_usage_nano_cores=5_000_000, memory_working_set_bytes=10 << 20)
    assert corral("top", "nodes").out.splitlines()[1].split() == ["node-1", "250m", "12%",
                                                                 "512Mi", "25%"]
    assert corral("top", "pods").out.splitlines()[1].split() == ["web", "5m", "10Mi"]
    img = corral.api.images.nodes.add(node="node-1").images.add(
        names=["docker.io/library/busybox:1.36"], id="sha256:" + "ab" * 32, size_bytes=4_400_000)
    assert img.size_bytes
    r = corral("image", "ls")
    assert r.out.splitlines()[1].split() == ["node-1", "docker.io/library/busybox", "1.36",
                                             "abababababab", "4.4MB"]
    r = corral("image", "pull", "busybox")     # a server without the call: a clean error
    assert r.code == 1 and r.err.startswith("Error from server (NotImplemented)")


def test_client_error_translation(fake_server: FakeServer) -> None:
    with Client(fake_server.address) as c:
        with pytest.raises(errors.NotFound, match='pods "x" not found'):
            c.get("po", "x", "default")
        p = core_pb2.Pod()
        p.metadata.name = "x"
        p.metadata.namespace = "default"
        obj = c.create(kinds.wrap(p))
        with pytest.raises(errors.AlreadyExists):
            c.create(kinds.wrap(p))
        obj.pod.metadata.resource_version = "1"
        with pytest.raises(errors.Conflict):
            c.update(obj)
    with Client("127.0.0.1:1", timeout=5) as c, pytest.raises(errors.Unavailable,
                                                              match="connection to the server"):
        c.version()


def test_get_label_columns_and_sort_by(corral: Runner, tmp_path: Path) -> None:
    corral("apply", "-f", write(tmp_path, "p.yaml", PODS))
    r = corral("get", "pods", "-L", "app", "--sort-by", ".spec.containers[0].image")
    header, *rows = r.out.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "APP"]
    assert [row.split()[0] for row in rows] == ["web", "db"]      # nginx < postgres
    assert rows[0].split()[-1] == "web"
    r = corral("get", "pods", "--sort-by", ".metadata.name", "-o", "name")
    assert r.out == "pod/db\npod/web\n"
