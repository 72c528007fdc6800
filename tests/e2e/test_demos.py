"""`corral demo NAME` runs every narrated demo unattended, to completion, on one
local cluster (demo profile), through the real CLI, and cleans up after itself."""

from __future__ import annotations

import pytest

from localcluster.demo import DEMOS, MANIFESTS
from tests.e2e.conftest import Cluster

# The lines that prove each demo's claims (narration, command output, proofs).
KEY_LINES = {
    "self-healing": [
        "$ corral chaos kill-container web-",
        "restartCount 0 -> 1, Running and ready again; deployment web: 3/3 ready",
        "Exit Code:  137",
    ],
    "node-failure": [
        "$ corral chaos kill-node node-",
        "replacement(s) elsewhere, nothing on node-",
        " NotReady ",
        "$ corral chaos restart-agent node-",
        "old pod(s) cleaned up, none running; still exactly 3 web pods",
    ],
    "scaling": [
        "$ corral scale deploy/web --replicas 5 -n demo-scaling",
        "deployment web: 5/5 ready",
        "deployment web: 1/1 ready",
    ],
    "rolling-update": [
        "$ corral set image deploy/web web=demo:v2 -n demo-rolling-update",
        'deployment "web" successfully rolled out',
        "deployment web: 3/3 ready, running demo:v2",
        "Hello from corral, version 2",
        "$ corral rollout history deploy/web -n demo-rolling-update",
        "deployment.apps/web rolled back",
        "deployment web: 3/3 ready, running demo:latest",
    ],
    "oom": [
        "reason OOMKilled, exit code 137",
        "Last State:     Terminated",
        "allocating memory until something stops me",
    ],
    "service": [
        "$ corral get svc,endpointslices -n demo-service",
        "web.demo-service.svc.cluster.local",
        "requests to http://web/ meanwhile, 0 failed",
        "deployment web: 3/3 ready, running demo:v2",
        "Drained",
    ],
    "crash-loop": [
        "CrashLoopBackOff",
        "back-off grew ",
        "Back-off restarting failed container",
        "error: cannot reach the database",
    ],
}


def test_every_demo_has_a_manifest_and_key_lines() -> None:
    assert set(KEY_LINES) == set(DEMOS)
    for name in DEMOS:
        assert (MANIFESTS / f"{name}.yaml").is_file(), name


def test_demo_ls_and_unknown(cluster: Cluster) -> None:
    out = cluster.corral("demo", "ls")
    for name in DEMOS:
        assert name in out
    out = cluster.corral("demo", "no-such-demo", check=False)
    assert 'unknown demo "no-such-demo"' in out


@pytest.mark.parametrize("name", list(DEMOS))
def test_demo_runs_to_completion(cluster: Cluster, name: str) -> None:
    out = cluster.corral("demo", name, timeout=300)     # exit code 0, or it raises
    assert f"=== corral demo {name}: " in out
    for line in KEY_LINES[name]:
        assert line in out, f"{line!r} missing from the demo's output:\n{out}"
    assert "✗" not in out, out
    assert f"=== demo {name}: done in " in out, out
    assert f"namespace demo-{name} is gone" in out
    assert f"demo-{name}" not in cluster.corral("get", "namespaces")


def test_keep_leaves_the_namespace_and_a_rerun_starts_clean(cluster: Cluster) -> None:
    out = cluster.corral("demo", "oom", "--keep", timeout=300)
    assert "Keeping namespace demo-oom (--keep)" in out
    assert "memory-hog" in cluster.corral("get", "pods", "-n", "demo-oom")
    out = cluster.corral("demo", "oom", timeout=300)
    assert "Namespace demo-oom is left from an earlier run" in out
    assert "=== demo oom: done in " in out
    assert "demo-oom" not in cluster.corral("get", "namespaces")
