"""`corral` against a control plane with a hollow agent (fake nodes that report pods
Running and Ready and confirm deletions): rollouts finish, drain moves pods."""

from __future__ import annotations

from corral.client import Client
from tests.integration.cli.conftest import Corral
from tests.integration.cli.helpers import MANIFESTS, unique_ns, wait_for


def test_rollout_status_set_image_undo(corral: Corral, hollow: list[str]) -> None:
    ns = unique_ns(corral)
    r = corral("apply", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml"))
    assert r.code == 0, r.err
    r = corral("rollout", "status", "deploy/web", "-n", ns, "--timeout", "90s", timeout=120)
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1] == 'deployment "web" successfully rolled out'
    r = corral("get", "deploy", "web", "-n", ns, "--no-headers")
    replicas = r.out.split()[1].split("/")[1]
    assert r.out.split()[1] == f"{replicas}/{replicas}"
    r = corral("get", "pods", "-n", ns, "-o", "wide", "--no-headers")
    rows = [ln.split() for ln in r.out.splitlines()]
    assert rows and all(row[2] == "Running" and row[6] in hollow for row in rows), r.out

    r = corral("set", "image", "deploy/web", "web=demo:v2", "-n", ns)
    assert r.code == 0, r.err
    r = corral("rollout", "status", "deploy/web", "-n", ns, "--timeout", "90s", timeout=120)
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1] == 'deployment "web" successfully rolled out'
    r = corral("get", "pods", "-n", ns, "-o", "jsonpath={.items[*].spec.containers[0].image}")
    assert set(r.out.split()) == {"demo:v2"}

    r = corral("rollout", "history", "deploy/web", "-n", ns)
    assert [ln.split()[0] for ln in r.out.splitlines()[2:] if ln] == ["1", "2"]
    r = corral("rollout", "undo", "deploy/web", "-n", ns)
    assert r.code == 0, r.err
    r = corral("rollout", "status", "deploy/web", "-n", ns, "--timeout", "90s", timeout=120)
    assert r.code == 0, r.err
    r = corral("get", "deploy", "web", "-n", ns, "-o",
               "jsonpath={.spec.template.spec.containers[0].image}")
    assert r.out != "demo:v2"

    r = corral("delete", "deploy", "web", "-n", ns, "--timeout", "60s", timeout=90)
    assert r.code == 0, r.err


def test_delete_pod_waits_for_the_agent(corral: Corral, hollow: list[str],
                                        client: Client) -> None:
    ns = unique_ns(corral)
    r = corral("apply", "-n", ns, "-f", "-", stdin=(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: solo\nspec:\n  containers:\n"
        "  - name: c\n    image: busybox\n"))
    assert r.code == 0, r.err
    wait_for(client, "pods", ns, lambda objs: any(
        o.pod.metadata.name == "solo" and o.pod.status.phase == "Running" for o in objs))
    r = corral("describe", "pod", "solo", "-n", ns)
    assert "Status:" in r.out and "Running" in r.out
    r = corral("delete", "pod", "solo", "-n", ns, "--timeout", "60s", timeout=90)
    assert (r.code, r.out) == (0, 'pod "solo" deleted\n'), r.err
    r = corral("get", "pod", "solo", "-n", ns)
    assert r.code == 1 and 'pods "solo" not found' in r.err


def test_drain_moves_pods_off_the_node(corral: Corral, hollow: list[str],
                                       client: Client) -> None:
    ns = unique_ns(corral)
    r = corral("apply", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml"))
    assert r.code == 0, r.err
    r = corral("rollout", "status", "deploy/web", "-n", ns, "--timeout", "90s", timeout=120)
    assert r.code == 0, r.err
    # a pod no controller owns stops the drain unless --force
    r = corral("apply", "-n", ns, "-f", "-", stdin=(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bare\nspec:\n"
        f"  nodeName: {hollow[0]}\n  containers:\n  - name: c\n    image: busybox\n"))
    assert r.code == 0, r.err
    target = hollow[0]
    r = corral("drain", target)
    assert r.code == 1
    assert f"{ns}/bare" in r.err and "--force" in r.err
    r = corral("drain", target, "--force", "--timeout", "60s", timeout=120)
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1] == f"node/{target} drained"
    r = corral("get", "nodes", target, "--no-headers")
    assert r.out.split()[1] == "Ready,SchedulingDisabled"
    r = corral("get", "pods", "-A", "--field-selector", f"spec.nodeName={target}", "-o", "name")
    assert r.out == ""
    r = corral("rollout", "status", "deploy/web", "-n", ns, "--timeout", "90s", timeout=120)
    assert r.code == 0, r.err
    r = corral("get", "pods", "-n", ns, "-o", "wide", "--no-headers")
    assert r.out and all(row.split()[6] != target for row in r.out.splitlines())
    assert corral("uncordon", target).out == f"node/{target} uncordoned\n"
    assert corral("delete", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml"),
                  timeout=90).code == 0
