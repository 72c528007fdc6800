"""The CLI end to end against an in-memory Api servicer on a real gRPC server."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
import yaml

from corral import errors
from corral.client import Client
from proto import api_pb2, apps_pb2, core_pb2, kinds
from tests.unit.cli.conftest import Result, Runner
from tests.unit.cli.fake_api import FakeServer, now_minus

PODS = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: nginx
---
apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
  - name: x
    imagee: busybox
---
apiVersion: v1
kind: Pod
metadata:
  name: db
spec:
  containers:
  - name: db
    image: postgres
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_apply_reports_each_document_and_the_bad_one(corral: Runner, tmp_path: Path) -> None:
    f = write(tmp_path, "pods.yaml", PODS)
    r = corral("apply", "-f", f)
    assert r.code == 1
    assert r.out == "pod/web created\npod/db created\n"
    assert f"{f}: document 2 (pod/bad): spec.containers[0].imagee: unknown field" in r.err
    assert ("pods", "default", "web") in corral.api.objects
    r = corral("apply", "-f", f)
    assert r.out == "pod/web unchanged\npod/db unchanged\n"
    changed = write(tmp_path, "web.yaml", PODS.split("---")[0].replace("nginx", "nginx:2"))
    r = corral("apply", "-f", changed)
    assert (r.code, r.out) == (0, "pod/web configured\n")


def test_apply_yaml_syntax_error_names_file_line_column(corral: Runner, tmp_path: Path) -> None:
    text = PODS.replace("  labels: {app: web}", "  labels: {app: web")
    f = write(tmp_path, "broken.yaml", text)
    r = corral("apply", "-f", f)
    assert r.code == 1
    assert r.err.startswith(f"error: {f}:")
    assert "document 1: YAML syntax error" in r.err
    assert r.out == "pod/db created\n"


def test_apply_from_stdin_and_namespace_flag(corral: Runner, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PODS.split("---")[0]))
    r = corral("apply", "-f", "-", "-n", "dev")
    assert (r.code, r.out) == (0, "pod/web created\n")
    assert ("pods", "dev", "web") in corral.api.objects


def test_apply_namespace_mismatch(corral: Runner, tmp_path: Path) -> None:
    f = write(tmp_path, "p.yaml", PODS.split("---")[0].replace(
        "  name: web\n", "  name: web\n  namespace: prod\n", 1))
    r = corral("apply", "-f", f, "-n", "dev")
    assert r.code == 1
    assert 'the namespace from the provided object "prod" does not match' in r.err


def test_create_existing_is_already_exists(corral: Runner, tmp_path: Path) -> None:
    f = write(tmp_path, "p.yaml", PODS.split("---")[0])
    assert corral("create", "-f", f).out == "pod/web created\n"
    r = corral("create", "-f", f)
    assert r.code == 1
    assert r.err.startswith("Error from server (AlreadyExists): error when creating")


def test_get_empty_not_found_and_table(corral: Runner, tmp_path: Path) -> None:
    r = corral("get", "pods")
    assert (r.code, r.out, r.err) == (0, "", "No resources found in default namespace.\n")
    r = corral("get", "pods", "nope")
    assert r.code == 1
    assert r.err == 'Error from server (NotFound): pods "nope" not found\n'
    corral("apply", "-f", write(tmp_path, "p.yaml", PODS))
    r = corral("get", "po")
    assert r.out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [ln.split()[0] for ln in r.out.splitlines()[1:]] == ["db", "web"]
    r = corral("get", "pods", "-l", "app=web", "-o", "name")
    assert r.out == "pod/web\n"
    r = corral("get", "pods", "-A")
    assert r.out.splitlines()[0].startswith("NAMESPACE")
    r = corral("get", "pods/web", "pods/nope")
    assert r.code == 1 and "web" in r.out and 'pods "nope" not found' in r.err


def test_get_yaml_round_trips_into_apply(corral: Runner, tmp_path: Path) -> None:
    corral("apply", "-f", write(tmp_path, "p.yaml", PODS.split("---")[0]))
    r = corral("get", "pod", "web", "-o", "yaml")
    doc = yaml.safe_load(r.out)
    assert doc["kind"] == "Pod" and doc["metadata"]["name"] == "web"
    f = write(tmp_path, "back.yaml", r.out)
    assert corral("apply", "-f", f).out == "pod/web unchanged\n"


def test_apply_keeps_what_others_set_and_drops_what_the_file_no_longer_says(
        corral: Runner, tmp_path: Path, fake_server: FakeServer) -> None:
    base = PODS.split("---")[0]
    with_label = base.replace("labels: {app: web}", "labels: {app: web, tier: web}")
    corral("apply", "-f", write(tmp_path, "p.yaml", with_label))
    fake = fake_server.api
    pod = fake.objects[("pods", "default", "web")]
    pod.pod.spec.node_name = "node-1"             # set by someone else (the scheduler)
    pod.pod.metadata.labels["by-other"] = "yes"
    fake.put(pod)
    assert corral("apply", "-f", write(tmp_path, "r.yaml", base)).out == "pod/web configured\n"
    after = fake.objects[("pods", "default", "web")].pod
    assert after.spec.node_name == "node-1"
    assert dict(after.metadata.labels) == {"app": "web", "by-other": "yes"}


def test_get_watch_streams_rows(corral: Runner, tmp_path: Path) -> None:
    corral("apply", "-f", write(tmp_path, "p.yaml", PODS.split("---")[0]))
    result: list[Result] = []
    t = threading.Thread(target=lambda: result.append(corral("get", "pods", "-w")))
    t.start()
    assert corral.api.watch_started.wait(10)
    p = core_pb2.Pod()
    p.metadata.name = "late"
    p.metadata.namespace = "default"
    p.spec.containers.add(name="c", image="busybox")
    corral.api.put(kinds.wrap(p))
    corral.api.end_watches()
    t.join(10)
    (r,) = result
    lines = r.out.splitlines()
    assert lines[0].split()[0] == "NAME"
    assert [ln.split()[0] for ln in lines[1:]] == ["web", "late"]


def add_event(corral: Runner, name: str, reason: str, message: str, kind: str = "Pod") -> None:
    ev = core_pb2.Event(reason=reason, message=message, type="Normal", count=1)
    ev.metadata.name = f"{name}.{reason}"
    ev.metadata.namespace = "default"
    ev.involved_object.kind = kind
    ev.involved_object.name = name
    ev.source.component = "default-scheduler"
    ev.last_timestamp.CopyFrom(now_minus(30))
    ev.first_timestamp.CopyFrom(now_minus(30))
    corral.api.put(kinds.wrap(ev))


def test_describe_pod_with_events(corral: Runner, tmp_path: Path) -> None:
    corral("apply", "-f", write(tmp_path, "p.yaml", PODS))
    add_event(corral, "web", "Scheduled", "Successfully assigned default/web to node-1")
    add_event(corral, "db", "Scheduled", "Successfully assigned default/db to node-1")
    r = corral("describe", "pod", "web")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].split() == ["Name:", "web"]
    assert lines[1].split() == ["Namespace:", "default"]
    assert any(ln.split() == ["Labels:", "app=web"] for ln in lines)
    i = lines.index("Events:")
    assert lines[i + 1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert lines[i + 3].split()[:4] == ["Normal", "Scheduled", "30s", "default-scheduler"]
    assert "default/db" not in r.out
    r = corral("describe", "pod", "nope")
    assert r.code == 1 and 'pods "nope" not found' in r.err


def test_delete_by_name_file_and_selector(corral: Runner, tmp_path: Path) -> None:
    f = write(tmp_path, "p.yaml", PODS)
    corral("apply", "-f", f)
    r = corral("delete", "pod", "web")
    assert (r.code, r.out) == (0, 'pod "web" deleted\n')
    r = corral("delete", "pod", "web")
    assert r.code == 1 and r.err == 'Error from server (NotFound): pods "web" not found\n'
    assert corral("delete", "pod", "web", "--ignore-not-found").code == 0
    corral("apply", "-f", f)
    r = corral("delete", "pods", "-l", "app=web", "--grace-period", "5", "--wait=false")
    assert r.out == 'pod "web" deleted\n'
    assert corral.api.deletes[-1].grace_period_seconds == 5
    corral("apply", "-f", f)
    r = corral("delete", "-f", f)
    assert r.out == 'pod "web" deleted\npod "db" deleted\n'
    assert r.code == 1   # the bad document is reported
    assert not corral.api.objects


def test_delete_force(corral: Runner, tmp_path: Path) -> None:
    corral("apply", "-f", write(tmp_path, "p.yaml", PODS.split("---")[0]))
    r = corral("delete", "pod", "web", "--force")
    assert r.out == 'pod "web" force deleted\n'
    assert "Immediate deletion does not wait" in r.err
    assert corral.api.deletes[-1].grace_period_seconds == 0


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
