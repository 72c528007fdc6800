"""The CLI end to end against an in-memory Api servicer on a real gRPC server: apply,
get, describe, delete. The other verbs: test_cli_fake_verbs.py."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
import yaml

from proto import core_pb2, kinds
from tests.unit.cli.conftest import Result, Runner
from tests.unit.cli.fake_api import FakeServer, now_minus
from tests.unit.cli.samples import PODS, write


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
