"""`corral` as a subprocess against a real etcd and control plane."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from corral import errors
from corral.client import Client
from proto import api_pb2, core_pb2, kinds
from tests.integration.cli.conftest import REPO, Corral
from tests.integration.cli.helpers import MANIFESTS, unique_ns, wait_for


def names_in(path: Path) -> list[tuple[str, str]]:
    """(kind, name) of each document of a manifest file."""
    return [(d["kind"], d["metadata"]["name"])
            for d in yaml.safe_load_all(path.read_text()) if d]


def test_apply_get_describe_delete_example_manifests(corral: Corral) -> None:
    ns = unique_ns(corral)
    files = [MANIFESTS / "pod.yaml", MANIFESTS / "web-deployment.yaml"]
    expected = [f"{kind.lower()}{'.apps' if kind in ('Deployment', 'ReplicaSet') else ''}/"
                f"{name} created" for f in files for kind, name in names_in(f)]
    args = [a for f in files for a in ("-f", str(f))]
    r = corral("apply", *args, "-n", ns)
    assert r.code == 0, r.err
    assert r.out.splitlines() == expected
    r = corral("apply", *args, "-n", ns)
    assert r.code == 0, r.err
    assert r.out.splitlines() == [e.replace(" created", " unchanged") for e in expected]

    (pod_name,) = [n for k, n in names_in(files[0]) if k == "Pod"]
    r = corral("get", "pods", "-n", ns)
    assert r.code == 0, r.err
    header, *rows = r.out.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pod_name in [row.split()[0] for row in rows]
    r = corral("get", "deploy", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}")
    assert r.out == "web"
    r = corral("get", f"pod/{pod_name}", "-n", ns, "-o", "name")
    assert r.out == f"pod/{pod_name}\n"

    r = corral("describe", "pod", pod_name, "-n", ns)
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].split() == ["Name:", pod_name]
    assert "Namespace:" in r.out and "Containers:" in r.out and "Events:" in r.out
    r = corral("describe", "deploy", "web", "-n", ns)
    assert r.code == 0, r.err
    assert "Replicas:" in r.out and "StrategyType:" in r.out

    r = corral("delete", "-f", str(files[1]), "-n", ns, "--timeout", "30s")
    assert r.code == 0, r.err
    assert r.out.startswith('deployment.apps "web" deleted')
    r = corral("get", "deploy", "web", "-n", ns)
    assert r.code == 1
    assert r.err.strip() == 'Error from server (NotFound): deployments.apps "web" not found'


def test_bad_document_in_the_middle(corral: Corral, tmp_path: Path) -> None:
    ns = unique_ns(corral)
    f = tmp_path / "multi.yaml"
    f.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: first\nspec:\n  containers:\n"
        "  - name: c\n    image: busybox\n"
        "---\n"
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: middle\nspec:\n  containers:\n"
        "  - name: c\n    image: busybox\n    resources:\n      limits:\n        cpu: 12X\n"
        "---\n"
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n  labels: {a: b\n"
        "---\n"
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: last\nspec:\n  containers:\n"
        "  - name: c\n    image: busybox\n"
    )
    r = corral("apply", "-f", str(f), "-n", ns)
    assert r.code == 1
    assert r.out.splitlines() == ["pod/first created", "pod/last created"]
    err = r.err.splitlines()
    assert len(err) == 2, r.err
    # caught by the client's decoder or by the server's validation; either way the
    # message names the file, the document and the field
    assert str(f) in err[0] and "document 2" in err[0] and "pod/middle" in err[0]
    assert "spec.containers[0].resources.limits" in err[0]
    assert err[1].startswith(f"error: {f}:")
    assert "document 3: YAML syntax error" in err[1]
    r = corral("get", "pods", "-n", ns, "-o", "name")
    assert sorted(r.out.split()) == ["pod/first", "pod/last"]


def test_server_validation_error_names_the_field(corral: Corral) -> None:
    ns = unique_ns(corral)
    r = corral("apply", "-n", ns, "-f", "-", stdin=(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Not_A_Name\nspec:\n  containers:\n"
        "  - name: c\n    image: busybox\n"))
    assert r.code == 1
    assert r.err.startswith("Error from server (Invalid): error when applying \"STDIN\"")
    assert "metadata.name" in r.err


def test_get_yaml_round_trips_into_apply(corral: Corral, tmp_path: Path) -> None:
    ns = unique_ns(corral)
    r = corral("apply", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml"))
    assert r.code == 0, r.err
    r = corral("get", "deploy", "web", "-n", ns, "-o", "yaml")
    assert r.code == 0, r.err
    doc = yaml.safe_load(r.out)
    assert (doc["kind"], doc["metadata"]["name"]) == ("Deployment", "web")
    f = tmp_path / "back.yaml"
    f.write_text(r.out)
    r = corral("apply", "-f", str(f))
    assert r.code == 0, r.err
    # as with kubectl: the file (with the defaults the server filled in) is now the
    # applied configuration (the annotation); the object itself does not change
    assert r.out == "deployment.apps/web configured\n"
    after = yaml.safe_load(corral("get", "deploy", "web", "-n", ns, "-o", "yaml").out)
    assert after["spec"] == doc["spec"] and after["metadata"]["generation"] == \
        doc["metadata"]["generation"]
    assert corral("apply", "-f", str(f)).out == "deployment.apps/web unchanged\n"
    r = corral("get", "deploy", "-n", ns, "-o", "json")
    assert r.code == 0 and '"kind": "List"' in r.out


def test_get_empty_and_missing(corral: Corral) -> None:
    ns = unique_ns(corral)
    r = corral("get", "pods", "-n", ns)
    assert (r.code, r.out, r.err) == (0, "", f"No resources found in {ns} namespace.\n")
    r = corral("get", "pods", "nope", "-n", ns)
    assert r.code == 1
    assert r.err == 'Error from server (NotFound): pods "nope" not found\n'
    r = corral("get", "widgets")
    assert r.code == 1 and 'doesn\'t have a resource type "widgets"' in r.err


def test_delete_waits_until_the_node_confirms(corral: Corral, client: Client) -> None:
    """A bound pod stays (Terminating) until its node confirms; delete waits for that."""
    ns = unique_ns(corral)
    node = core_pb2.Node()
    node.metadata.name = "node-" + ns
    client.create(kinds.wrap(node))
    r = corral("apply", "-n", ns, "-f", "-", stdin=(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bound\nspec:\n"
        f"  nodeName: node-{ns}\n  containers:\n  - name: c\n    image: busybox\n"))
    assert r.code == 0, r.err
    pod = client.get("pods", "bound", ns)

    # Play the node's agent: once the pod is marked for deletion, confirm it.
    watch = client.watch("pods", ns, field_selector="metadata.name=bound",
                         resource_version=pod.pod.metadata.resource_version)
    confirmed = threading.Event()

    def agent() -> None:
        for ev in watch:
            if ev.object.pod.metadata.HasField("deletion_timestamp"):
                try:
                    client.delete("pods", "bound", ns, grace_period_seconds=0)
                except errors.NotFound:
                    pass
                confirmed.set()
                return

    t = threading.Thread(target=agent)
    t.start()
    try:
        r = corral("delete", "pod", "bound", "-n", ns, "--timeout", "60s")
    finally:
        watch.cancel()
        t.join(10)
    assert r.code == 0, r.err
    assert r.out == 'pod "bound" deleted\n'
    assert confirmed.is_set()
    try:
        client.get("pods", "bound", ns)
        raise AssertionError("pod still there after delete --wait returned")
    except errors.NotFound:
        pass


def test_delete_wait_times_out_without_confirmation(corral: Corral, client: Client) -> None:
    ns = unique_ns(corral)
    node = core_pb2.Node()
    node.metadata.name = "node-" + ns
    client.create(kinds.wrap(node))
    r = corral("apply", "-n", ns, "-f", "-", stdin=(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: stuck\nspec:\n"
        f"  nodeName: node-{ns}\n  containers:\n  - name: c\n    image: busybox\n"))
    assert r.code == 0, r.err
    r = corral("delete", "pod", "stuck", "-n", ns, "--timeout", "2s")
    assert r.code == 1
    assert 'pod "stuck" deleted' in r.out
    assert "timed out waiting for the condition on pods/stuck" in r.err
    r = corral("get", "pod", "stuck", "-n", ns)
    assert "Terminating" in r.out
    r = corral("delete", "pod", "stuck", "-n", ns, "--force", "--timeout", "30s")
    assert r.code == 0, r.err


def test_version_and_api_resources(corral: Corral) -> None:
    r = corral("version")
    assert r.code == 0, r.err
    assert r.out.startswith("Client Version: v") and "Server Version: v" in r.out
    r = corral("api-resources")
    assert r.code == 0, r.err
    names = [ln.split()[0] for ln in r.out.splitlines()[1:]]
    assert {"pods", "deployments", "replicasets", "nodes", "namespaces", "events"} <= set(names)


def test_scale_label_cordon(corral: Corral, client: Client) -> None:
    ns = unique_ns(corral)
    assert corral("apply", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml")).code == 0
    r = corral("scale", "deploy/web", "--replicas", "1", "-n", ns)
    assert (r.code, r.out) == (0, "deployment.apps/web scaled\n"), r.err
    assert client.get("deployments", "web", ns).deployment.spec.replicas == 1
    r = corral("label", "deploy", "web", "team=a", "-n", ns)
    assert (r.code, r.out) == (0, "deployment.apps/web labeled\n"), r.err
    r = corral("get", "deploy", "-n", ns, "-l", "team=a", "-o", "name")
    assert r.out == "deployment.apps/web\n"
    node = core_pb2.Node()
    node.metadata.name = "cordon-" + ns
    client.create(kinds.wrap(node))
    r = corral("cordon", node.metadata.name)
    assert (r.code, r.out) == (0, f"node/{node.metadata.name} cordoned\n"), r.err
    assert client.get("nodes", node.metadata.name).node.spec.unschedulable


def revisions(objs: list[api_pb2.Object]) -> set[str]:
    return {o.replica_set.metadata.annotations.get("deployment.kubernetes.io/revision", "")
            for o in objs}


def test_rollout_history_undo_restart(corral: Corral, client: Client) -> None:
    ns = unique_ns(corral)
    assert corral("apply", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml")).code == 0
    wait_for(client, "replicasets", ns, lambda objs: "1" in revisions(objs))
    r = corral("rollout", "history", "deploy/web", "-n", ns)
    assert r.code == 0, r.err
    assert r.out.splitlines()[:3] == ["deployment.apps/web ", "REVISION   CHANGE-CAUSE",
                                      "1          <none>"]
    original = client.get("deployments", "web", ns).deployment.spec.template.spec.containers[0]
    r = corral("set", "image", "deploy/web", "web=demo:v2", "-n", ns)
    assert (r.code, r.out) == (0, "deployment.apps/web image updated\n"), r.err
    wait_for(client, "replicasets", ns, lambda objs: "2" in revisions(objs))
    r = corral("rollout", "history", "deploy/web", "-n", ns, "--revision", "2")
    assert r.code == 0 and "demo:v2" in r.out, r.err
    r = corral("rollout", "undo", "deploy/web", "-n", ns)
    assert (r.code, r.out) == (0, "deployment.apps/web rolled back\n"), r.err
    d = client.get("deployments", "web", ns).deployment
    assert d.spec.template.spec.containers[0].image == original.image
    assert "pod-template-hash" not in d.spec.template.metadata.labels
    r = corral("rollout", "restart", "deploy/web", "-n", ns)
    assert (r.code, r.out) == (0, "deployment.apps/web restarted\n"), r.err
    d = client.get("deployments", "web", ns).deployment
    assert "kubectl.kubernetes.io/restartedAt" in d.spec.template.metadata.annotations
    # no node runs the pods: status waits, then gives up at the timeout
    r = corral("rollout", "status", "deploy/web", "-n", ns, "--timeout", "2s")
    assert r.code == 1
    assert r.out.startswith("Waiting for deployment")
    assert "timed out waiting for the condition" in r.err


def test_describe_shows_the_objects_events(corral: Corral, client: Client) -> None:
    ns = unique_ns(corral)
    r = corral("apply", "-n", ns, "-f", "-", stdin=(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lonely\nspec:\n  containers:\n"
        "  - name: c\n    image: busybox\n"))
    assert r.code == 0, r.err
    # the scheduler finds no node for it and says so in an Event
    wait_for(client, "events", ns,
             lambda objs: any(o.event.involved_object.name == "lonely" for o in objs))
    r = corral("describe", "pod", "lonely", "-n", ns)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    i = lines.index("Events:")
    assert lines[i + 1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert any("FailedScheduling" in ln for ln in lines[i + 2:])
    r = corral("get", "events", "-n", ns)
    assert r.out.splitlines()[0].split()[:3] == ["LAST", "SEEN", "TYPE"]
    assert "pod/lonely" in r.out


def test_get_watch_streams_new_rows(corral: Corral, client: Client) -> None:
    ns = unique_ns(corral)
    proc = subprocess.Popen(
        [sys.executable, "-m", "corral.cli.main", "--server", corral.address, "get", "pods",
         "-w", "-n", ns, "--no-headers"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=corral.env)
    lines: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        # the watch may start a moment after that line: keep creating pods until one shows
        for i in range(50):
            r = corral("apply", "-n", ns, "-f", "-", stdin=(
                f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  containers:\n"
                "  - name: c\n    image: busybox\n"))
            assert r.code == 0, r.err
            try:
                line = lines.get(timeout=3)
            except queue.Empty:
                continue
            assert line.split()[0].startswith("p")
            assert line.split()[2] == "Pending"
            break
        else:
            raise AssertionError("get -w printed nothing")
    finally:
        proc.terminate()
        proc.wait(10)

