"""Probes on a real cluster and the real runtime: exec, httpGet and tcpSocket, each as a
liveness, readiness and startup probe, with the time of the first failure; and the
Kubernetes docs' exec-liveness example, which must behave as the docs say.

One 1-node cluster for the module. Every pod is created at once by a module fixture
and a thread records each pod's status from then on (a look every 0.3 s), so the
pods' clocks run side by side: the module takes about as long as its slowest pod
(the docs' example, ~75 s). Times come from the agent: the container's startedAt,
the Unhealthy/Killing events' firstTimestamp; the recorded looks only serve "never
before" claims (a look at time t that already shows a change puts it before t).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import yaml

from proto import api_pb2
from tests.e2e.conftest import Cluster, down, up, wait_for
from tests.faults.conftest import api, apply, list_pods

SLACK = 4.0      # how late a probe may act on a loaded 2-core CI machine (never how early)

# https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# exec-liveness.yaml, unchanged but for the image (the cluster's busybox-based demo image)
DOCS_EXEC_LIVENESS = """\
apiVersion: v1
kind: Pod
metadata:
  labels:
    test: liveness
  name: liveness-exec
spec:
  containers:
  - name: liveness
    image: demo:latest
    args:
    - /bin/sh
    - -c
    - touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600
    livenessProbe:
      exec:
        command:
        - cat
        - /tmp/healthy
      initialDelaySeconds: 5
      periodSeconds: 5
"""


def pod(name: str, script: str, **probes: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "app", "image": "demo:latest", "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", script], **probes}]}}


def exec_(*argv: str, **kw: int) -> dict[str, Any]:
    return {"exec": {"command": list(argv)}, **kw}


def http(path: str, port: int, **kw: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, **kw}


def tcp(port: int, **kw: int) -> dict[str, Any]:
    return {"tcpSocket": {"port": port}, **kw}


SERVE = "mkdir -p /tmp/www; echo ok > /tmp/www/{f}; httpd -p 8080 -h /tmp/www; "
PODS = [
    # liveness: healthy for 6 s, then broken: failures from 6 s, killed at the 2nd
    pod("live-http", SERVE.format(f="healthz") + "sleep 6; rm /tmp/www/healthz; sleep 600",
        livenessProbe=http("/healthz", 8080, initialDelaySeconds=1, periodSeconds=1,
                           failureThreshold=2)),
    pod("live-tcp", "httpd -f -p 9000 & sleep 6; kill $!; sleep 600",
        livenessProbe=tcp(9000, initialDelaySeconds=1, periodSeconds=1, failureThreshold=2)),
    # readiness: ready after 2 s, not from 6 s to 10 s, ready again; never restarted
    pod("ready-exec", "touch /tmp/ready; sleep 6; rm /tmp/ready; sleep 4; touch /tmp/ready; "
        "sleep 600",
        readinessProbe=exec_("cat", "/tmp/ready", initialDelaySeconds=2, periodSeconds=1,
                             failureThreshold=1)),
    # readiness: failing at once (no initial delay), ready once it serves, after 5 s
    pod("ready-http", "mkdir -p /tmp/www; httpd -p 8080 -h /tmp/www; sleep 5; "
        "echo ok > /tmp/www/ready; sleep 600",
        readinessProbe=http("/ready", 8080, periodSeconds=1)),
    pod("ready-tcp", "sleep 5; exec httpd -f -p 9000",
        readinessProbe=tcp(9000, periodSeconds=1)),
    # startup: passes after 5 s; the liveness probe (which would kill at its first
    # failure) only runs after that
    pod("start-exec", "sleep 5; touch /tmp/started; sleep 600",
        startupProbe=exec_("cat", "/tmp/started", periodSeconds=1, failureThreshold=30),
        livenessProbe=exec_("cat", "/tmp/started", periodSeconds=1, failureThreshold=1)),
    pod("start-http", "sleep 5; exec httpd -f -p 8080 -h /www",
        startupProbe=http("/", 8080, periodSeconds=1, failureThreshold=30),
        livenessProbe=http("/", 8080, periodSeconds=1, failureThreshold=1)),
    # startup: never passes: failures from 2 s (its initial delay), killed at the 3rd
    pod("start-tcp", "sleep 600",
        startupProbe=tcp(9000, initialDelaySeconds=2, periodSeconds=1, failureThreshold=3),
        livenessProbe=exec_("true")),
]
NAMES = ["liveness-exec", *(p["metadata"]["name"] for p in PODS)]


@dataclass(frozen=True)
class Look:
    at: float                 # local time the status was read
    phase: str
    ready: bool
    started: bool
    restarts: int
    started_at: float         # the current container's start (0: not running)


def _seconds(ts: Any) -> float:
    return float(ts.ToNanoseconds()) / 1e9


class Recorder(threading.Thread):
    """Every pod's status, looked at every 0.3 s."""

    def __init__(self, c: Cluster) -> None:
        super().__init__(daemon=True)
        self.c = c
        self.looks: dict[str, list[Look]] = {n: [] for n in NAMES}
        self.last: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.halt = threading.Event()

    def run(self) -> None:
        with api(self.c) as stub:
            while not self.halt.wait(0.3):
                try:
                    pods = list_pods(stub)
                except grpc.RpcError:
                    continue
                now = time.time()
                with self.lock:
                    for p in pods:
                        if p.metadata.name not in self.looks or not p.status.container_statuses:
                            continue
                        cs = p.status.container_statuses[0]
                        self.looks[p.metadata.name].append(Look(
                            now, p.status.phase, cs.ready, cs.started, cs.restart_count,
                            _seconds(cs.state.running.started_at)
                            if cs.state.HasField("running") else 0.0))
                        self.last[p.metadata.name] = p

    def of(self, name: str) -> list[Look]:
        with self.lock:
            return list(self.looks[name])

    def pod(self, name: str) -> Any:
        with self.lock:
            return self.last.get(name)

    def first_start(self, name: str) -> float:
        """When the pod's first container started (its probes' clock starts there)."""
        return wait_for(lambda: next((lk.started_at for lk in self.of(name)
                                      if lk.restarts == 0 and lk.started_at), 0.0),
                        90, f"{name}'s first container running")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = up("pr" + secrets.token_hex(2), tmp_path_factory.mktemp("cluster"), nodes=1)
    try:
        yield c
    finally:
        left = down(c)
        assert not left, f"cluster down left: {left}"


@pytest.fixture(scope="module")
def rec(cluster: Cluster) -> Iterator[Recorder]:
    r = Recorder(cluster)
    r.start()
    apply(cluster, [yaml.safe_load(DOCS_EXEC_LIVENESS), *PODS])
    try:
        yield r
    finally:
        r.halt.set()
        r.join(10)
        cluster.corral("delete", "pod", *NAMES, "--wait=false", check=False)


def events(c: Cluster, pod: str, reason: str, prefix: str = "") -> list[Any]:
    """The pod's events of this reason (message starting with prefix), oldest first."""
    with api(c) as stub:
        items = stub.List(api_pb2.ListRequest(resource="events", namespace="default"),
                          timeout=10).items
    out = [i.event for i in items if i.event.involved_object.name == pod
           and i.event.reason == reason and i.event.message.startswith(prefix)]
    return sorted(out, key=lambda e: _seconds(e.first_timestamp))


def first(c: Cluster, pod: str, reason: str, prefix: str = "", timeout: float = 60) -> Any:
    """The first such event, waited for."""
    return wait_for(lambda: next(iter(events(c, pod, reason, prefix)), None), timeout,
                    f"a {reason} event '{prefix}...' of {pod}", interval=0.5)


def within(t: float, lo: float, hi: float, what: str) -> None:
    assert lo <= t <= hi, f"{what} at {t - lo:+.1f} s from the earliest allowed " \
                          f"({hi - lo:.1f} s window)"


def restarted(rec: Recorder, name: str) -> Any:
    p = rec.pod(name)
    if p is None:
        return None
    cs = p.status.container_statuses[0]
    return p if cs.restart_count >= 1 and cs.state.HasField("running") else None


@pytest.mark.parametrize("name,prefix,why", [
    ("live-http", "Liveness probe failed: HTTP probe failed with statuscode: 404", 6.0),
    ("live-tcp", "Liveness probe failed: ", 6.0),
])
def test_liveness_failing_from_a_moment_on_restarts_the_container(
        cluster: Cluster, rec: Recorder, name: str, prefix: str, why: float) -> None:
    t0 = rec.first_start(name)
    fail = _seconds(first(cluster, name, "Unhealthy", prefix).first_timestamp)
    within(fail, t0 + why, t0 + why + 1 + SLACK, f"{name}: the first liveness failure")
    kill = first(cluster, name, "Killing", "Container app failed liveness probe")
    within(_seconds(kill.first_timestamp), fail + 1, fail + 1 + SLACK,
           f"{name}: the kill (2nd failure)")
    p = wait_for(lambda: restarted(rec, name), 60, f"{name} restarted and running")
    last = p.status.container_statuses[0].last_state.terminated
    assert _seconds(last.started_at) == pytest.approx(t0, abs=0.01)
    assert _seconds(last.finished_at) >= _seconds(kill.first_timestamp)
    assert not [lk for lk in rec.of(name) if lk.restarts and lk.at < fail], \
        f"{name} restarted before its probe failed"


def test_readiness_follows_the_probe_and_never_restarts(cluster: Cluster,
                                                        rec: Recorder) -> None:
    name = "ready-exec"
    t0 = rec.first_start(name)
    fail = _seconds(first(cluster, name, "Unhealthy", "Readiness probe failed: command exited 1"
                          ).first_timestamp)
    within(fail, t0 + 6, t0 + 7 + SLACK, "the first readiness failure")

    def changes() -> list[bool]:     # ready, unready, ready again: the changes seen
        out: list[bool] = []
        for lk in rec.of(name):
            if (out or lk.ready) and (not out or out[-1] != lk.ready):
                out.append(lk.ready)
        return out if len(out) >= 3 else []
    assert wait_for(changes, 60, "ready, then not, then ready again") == [True, False, True]
    looks = rec.of(name)
    assert not [lk for lk in looks if lk.ready and lk.at < t0 + 2], "ready before the delay"
    assert all(lk.restarts == 0 for lk in looks)
    assert not events(cluster, name, "Killing")


@pytest.mark.parametrize("name,prefix", [
    ("ready-http", "Readiness probe failed: HTTP probe failed with statuscode: 404"),
    ("ready-tcp", "Readiness probe failed: "),
])
def test_readiness_failing_at_once_then_ready(cluster: Cluster, rec: Recorder, name: str,
                                              prefix: str) -> None:
    t0 = rec.first_start(name)
    fail = _seconds(first(cluster, name, "Unhealthy", prefix).first_timestamp)
    within(fail, t0, t0 + 1 + SLACK, f"{name}: the first readiness failure (no delay)")
    wait_for(lambda: any(lk.ready for lk in rec.of(name)), 60, f"{name} ready")
    looks = rec.of(name)
    assert not [lk for lk in looks if lk.ready and lk.at < t0 + 5], "ready before it served"
    assert all(lk.restarts == 0 and lk.phase == "Running" for lk in looks)


@pytest.mark.parametrize("name", ["start-exec", "start-http"])
def test_startup_holds_liveness_back_until_it_passes(cluster: Cluster, rec: Recorder,
                                                     name: str) -> None:
    t0 = rec.first_start(name)
    fail = _seconds(first(cluster, name, "Unhealthy", "Startup probe failed").first_timestamp)
    within(fail, t0, t0 + 1 + SLACK, f"{name}: the first startup failure (no delay)")
    wait_for(lambda: any(lk.started and lk.ready for lk in rec.of(name)), 60,
             f"{name} started and ready")
    looks = rec.of(name)
    assert not [lk for lk in looks if (lk.started or lk.ready) and lk.at < t0 + 5], \
        "started before the startup probe could pass"
    assert all(lk.restarts == 0 for lk in looks)
    assert not events(cluster, name, "Unhealthy", "Liveness probe failed")
    assert not events(cluster, name, "Killing")


def test_startup_never_passing_kills_after_its_threshold(cluster: Cluster,
                                                         rec: Recorder) -> None:
    name = "start-tcp"
    t0 = rec.first_start(name)
    fail = _seconds(first(cluster, name, "Unhealthy", "Startup probe failed: ").first_timestamp)
    within(fail, t0 + 2, t0 + 3 + SLACK, "the first startup failure (after its delay)")
    kill = first(cluster, name, "Killing", "Container app failed startup probe")
    within(_seconds(kill.first_timestamp), fail + 2, fail + 2 + SLACK, "the kill (3rd failure)")
    wait_for(lambda: restarted(rec, name), 60, f"{name} restarted")
    assert not [lk for lk in rec.of(name) if lk.started], "started without its probe passing"


def test_docs_exec_liveness_example_behaves_as_documented(cluster: Cluster,
                                                         rec: Recorder) -> None:
    """The docs: the probe passes while /tmp/healthy exists (30 s), then fails; after
    35 s the events show the failures and the kill; the container is restarted."""
    name = "liveness-exec"
    t0 = rec.first_start(name)
    fail = _seconds(first(cluster, name, "Unhealthy", "Liveness probe failed: ",
                          timeout=90).first_timestamp)
    within(fail, t0 + 30, t0 + 35 + SLACK, "the first liveness failure (the file gone at 30 s)")
    kill = first(cluster, name, "Killing", "Container liveness failed liveness probe",
                 timeout=60)
    within(_seconds(kill.first_timestamp), t0 + 35, t0 + 45 + SLACK,
           "the kill (3rd failure, 5 s apart)")
    assert "cat: can't open '/tmp/healthy'" in kill.message
    # sh as PID 1 ignores SIGTERM: it is killed after the default 30 s grace period
    p = wait_for(lambda: restarted(rec, name), 60, "the container restarted")
    last = p.status.container_statuses[0].last_state.terminated
    assert _seconds(last.started_at) == pytest.approx(t0, abs=0.01)
    assert last.exit_code == 137
    within(_seconds(last.finished_at), _seconds(kill.first_timestamp),
           _seconds(kill.first_timestamp) + 30 + SLACK, "the end of the first container")
    assert not [lk for lk in rec.of(name) if lk.restarts and lk.at < t0 + 35], \
        "restarted while /tmp/healthy existed"
    # `describe pod` as in the docs: "Liveness probe failed ... (x3 over 10s)", and the
    # container created and started twice
    (unhealthy,) = events(cluster, name, "Unhealthy", "Liveness probe failed: ")
    assert unhealthy.count == 3
    assert _seconds(unhealthy.last_timestamp) == \
        pytest.approx(_seconds(kill.first_timestamp), abs=1)
    wait_for(lambda: [e.count for e in events(cluster, name, "Started")] == [2], 30,
             "the Started event counted twice")
