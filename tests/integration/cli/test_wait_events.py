"""`corral wait` and `corral events` against a real control plane and a hollow agent (its
nodes report pods Running and Ready)."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time

from corral.client import Client
from tests.integration.cli.conftest import REPO, Corral
from tests.integration.cli.helpers import MANIFESTS, unique_ns


def read_until(proc: subprocess.Popen[str], text: str, timeout: float) -> str:
    """What `proc` printed until a line with `text` (or the timeout)."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(ln) for ln in stdout], daemon=True).start()
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen and (left := deadline - time.monotonic()) > 0:
        try:
            seen += lines.get(timeout=left)
        except queue.Empty:
            break
    return seen


def test_wait_for_conditions_of_a_rollout(corral: Corral, hollow: list[str]) -> None:
    ns = unique_ns(corral)
    r = corral("apply", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml"))
    assert r.code == 0, r.err
    r = corral("wait", "--for=condition=Available", "deploy/web", "-n", ns, "--timeout=90s",
               timeout=120)
    assert (r.code, r.out) == (0, "deployment.apps/web condition met\n"), r.err
    r = corral("wait", "--for=condition=Ready", "pods", "-l", "app=web", "-n", ns,
               "--timeout=60s", timeout=90)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 3 and all(ln.endswith(" condition met") for ln in lines), r.out
    r = corral("wait", "--for=jsonpath={.status.readyReplicas}=3", "deploy/web", "-n", ns)
    assert (r.code, r.out) == (0, "deployment.apps/web condition met\n"), r.err
    r = corral("wait", "--for=jsonpath={.status.phase}", "pods", "--all", "-n", ns)
    assert r.code == 0 and r.out.count("condition met") == 3, r.err
    r = corral("wait", "--for=condition=Available=false", "deploy/web", "-n", ns,
               "--timeout=1s")
    assert r.code == 1
    assert r.err == "error: timed out waiting for the condition on deployments/web\n"


def test_wait_for_delete_and_create(corral: Corral, client: Client) -> None:
    ns = unique_ns(corral)
    pod = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
           "  - name: c\n    image: demo\n")
    env = corral.env
    # a wait started before the pod exists sees it created
    waiter = subprocess.Popen(
        [sys.executable, "-m", "corral.cli.main", "--server", corral.address, "-n", ns,
         "wait", "--for=create", "pod/p", "--timeout=60s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        r = corral("apply", "-n", ns, "-f", "-", stdin=pod)
        assert r.code == 0, r.err
        out, err = waiter.communicate(timeout=90)
    finally:
        waiter.kill()
    assert (waiter.returncode, out) == (0, "pod/p condition met\n"), err
    r = corral("delete", "pod", "p", "-n", ns, "--wait=false")
    assert r.code == 0, r.err
    r = corral("wait", "--for=delete", "pod/p", "-n", ns, "--timeout=30s")
    assert (r.code, r.out) == (0, "pod/p condition met\n"), r.err


def test_wait_bad_input(corral: Corral) -> None:
    ns = unique_ns(corral)
    for argv, err in (
        (["--for=ready", "pod/x"], 'error: unrecognized condition: "ready"\n'),
        (["pod/x"], "error: --for must be condition=CONDITION[=STATUS], delete, create, "
                    "jsonpath='{PATH}'[=VALUE]\n"),
        (["--for=jsonpath={.status", "pod/x"], "error: --for must be"),
        (["--for=condition=Ready", "pod/x"], 'Error from server (NotFound): pods "x" not found'),
        (["--for=condition=Ready", "widgets/x"],
         'error: the server doesn\'t have a resource type "widgets"'),
        (["--for=condition=Ready", "pods"],
         "error: resource(s) were provided, but no name was specified"),
        (["--for=condition=Ready", "pods", "-l", "app=none"],
         "error: no matching resources found"),
    ):
        r = corral("wait", *argv, "-n", ns)
        assert r.code == 1 and r.err.startswith(err), (argv, r.err)


def test_events_oldest_first_for_one_object_and_watched(corral: Corral,
                                                        hollow: list[str]) -> None:
    ns = unique_ns(corral)
    r = corral("events", "-n", ns)
    assert (r.code, r.out, r.err) == (0, "", f"No events found in {ns} namespace.\n")
    r = corral("apply", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml"))
    assert r.code == 0, r.err
    r = corral("wait", "--for=condition=Available", "deploy/web", "-n", ns, "--timeout=90s",
               timeout=120)
    assert r.code == 0, r.err
    r = corral("events", "-n", ns)
    assert r.code == 0, r.err
    header, *rows = r.out.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any(" ScalingReplicaSet " in row and "deployment/web" in row for row in rows)
    assert any(" Scheduled " in row for row in rows)
    r = corral("events", "-n", ns, "--for", "deploy/web")
    assert r.code == 0 and r.out.count("\n") >= 2
    assert all("deployment/web" in row for row in r.out.splitlines()[1:]), r.out
    r = corral("events", "-A", "--types=Warning,normal")
    assert r.code == 0 and r.out.splitlines()[0].split()[0] == "NAMESPACE"

    watcher = subprocess.Popen(
        [sys.executable, "-m", "corral.cli.main", "--server", corral.address, "-n", ns,
         "events", "--watch", "--for", "pod/extra"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=corral.env)
    try:
        r = corral("run", "extra", "--image=demo", "-n", ns)
        assert r.code == 0, r.err
        seen = read_until(watcher, " Scheduled ", 60)
        assert " Scheduled " in seen and "pod/extra" in seen, seen
    finally:
        watcher.kill()
        watcher.communicate()
    for argv, err in ((["--for", "deploy"], 'error: --for must be in the form TYPE/NAME'),
                      (["--types", "Bad"], "error: valid --types are Normal, Warning"),
                      (["--for", "widgets/x"], 'doesn\'t have a resource type "widgets"')):
        r = corral("events", *argv)
        assert r.code == 1 and err in r.err, (argv, r.err)
