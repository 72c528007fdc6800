"""corral-controlplane's /metrics, /healthz, /readyz and JSON logs, as a real process
against a real etcd: counters move when a pod is created, a watch shows in the gauge,
/readyz turns 503 while etcd is stopped and 200 again after."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from controlplane.etcd import free_port
from corral import errors
from corral.client import Client
from proto import api_pb2, api_pb2_grpc, core_pb2, kinds
from tests.support.controlplane import ControlPlaneProcess
from tests.support.etcd import EtcdProcess

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text: str) -> Samples:
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def until(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling a condition with a deadline


class Env:
    def __init__(self, etcd: EtcdProcess, cp: ControlPlaneProcess, port: int) -> None:
        self.etcd, self.cp, self.base = etcd, cp, f"http://127.0.0.1:{port}"

    def metrics(self) -> Samples:
        status, text = get(self.base + "/metrics")
        assert status == 200
        return samples(text)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    port = free_port()
    with EtcdProcess() as etcd, ControlPlaneProcess(
            etcd.endpoint, loops=False,
            extra_args=["--metrics-listen", f"127.0.0.1:{port}", "--log-format", "json"]) as cp:
        yield Env(etcd, cp, port)


def _pod(name: str) -> api_pb2.Object:
    pod = core_pb2.Pod(api_version="v1", kind="Pod")
    pod.metadata.name = name
    pod.metadata.namespace = "default"
    pod.spec.containers.add(name="app", image="busybox:1.36")
    return kinds.wrap(pod)


def test_request_and_etcd_metrics_move(env: Env) -> None:
    create = ("corral_apiserver_requests_total", (("code", "OK"), ("method", "Create")))
    exists = ("corral_apiserver_requests_total", (("code", "ALREADY_EXISTS"),
                                                  ("method", "Create")))
    etcd_creates = ("corral_etcd_request_duration_seconds_count",
                    (("operation", "creating"), ("result", "ok")))
    before = env.metrics()
    with Client(env.cp.address) as c:
        c.create(_pod("metrics-1"))
        with pytest.raises(errors.AlreadyExists):
            c.create(_pod("metrics-1"))
    # grpc.aio's abort() sends the status before the handler unwinds: the server may
    # count the failed call a moment after the client has seen it
    until(lambda: env.metrics().get(exists, 0) > before.get(exists, 0), "the failed Create")
    after = env.metrics()
    creates = {k: v for k, v in after.items() if ("method", "Create") in k[1]}
    assert after.get(create) == before.get(create, 0) + 1, creates
    assert after.get(exists) == before.get(exists, 0) + 1, creates
    assert after[etcd_creates] > before.get(etcd_creates, 0)
    hist = ("corral_apiserver_request_duration_seconds_count", create[1])
    assert after[hist] == before.get(hist, 0) + 1


def test_kubernetes_api_request_metrics(env: Env) -> None:
    found = ("corral_kubeapi_requests_total",
             (("code", "200"), ("method", "GET"), ("resource", "pods")))
    missing = ("corral_kubeapi_requests_total",
               (("code", "404"), ("method", "GET"), ("resource", "pods")))
    before = env.metrics()
    base = env.cp.kube_url + "/api/v1/namespaces/default/pods"
    assert get(base)[0] == 200
    assert get(base + "/no-such-pod")[0] == 404
    after = env.metrics()
    assert after[found] == before.get(found, 0) + 1
    assert after[missing] == before.get(missing, 0) + 1
    hist = ("corral_kubeapi_request_duration_seconds_count",
            (("method", "GET"), ("resource", "pods")))
    assert after[hist] == before.get(hist, 0) + 2


def test_open_watches_gauge(env: Env) -> None:
    key = ("corral_apiserver_watches", (("resource", "pods"),))
    assert env.metrics().get(key, 0) == 0
    with grpc.insecure_channel(env.cp.address) as ch:
        stream = api_pb2_grpc.ApiStub(ch).Watch(api_pb2.WatchRequest(resource="pods"))
        until(lambda: env.metrics().get(key, 0) == 1, "one open pod watch")
        stream.cancel()
    until(lambda: env.metrics().get(key, 0) == 0, "the watch closed")


def test_readyz_follows_etcd(env: Env) -> None:
    assert get(env.base + "/healthz")[0] == 200
    assert get(env.base + "/readyz")[0] == 200
    env.etcd.stop()
    try:
        until(lambda: get(env.base + "/readyz")[0] == 503, "unready without etcd")
        assert get(env.base + "/healthz")[0] == 200       # alive all the same
    finally:
        env.etcd.start()
    until(lambda: get(env.base + "/readyz")[0] == 200, "ready again", timeout=60)


def test_json_logs_parse(env: Env) -> None:
    lines = [ln for ln in env.cp.log().splitlines() if ln.strip()]
    events = [json.loads(ln) for ln in lines if not ln.startswith("corral-controlplane: ")]
    assert events, "no log lines"
    for ev in events:
        assert {"ts", "level", "logger", "msg"} <= set(ev)


def test_scheduler_and_queue_metrics_with_loops() -> None:
    """With the loops running: queue depths of every controller are exported, and a pod
    that fits nowhere (no nodes) counts as an unschedulable attempt."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    unsched = ("corral_scheduler_attempts_total", (("result", "unschedulable"),))
    with EtcdProcess() as etcd, ControlPlaneProcess(
            etcd.endpoint, profile="demo",
            extra_args=["--metrics-listen", f"127.0.0.1:{port}"]) as cp:
        def m() -> Samples:
            return samples(get(base + "/metrics")[1])

        until(lambda: ("corral_workqueue_depth", (("queue", "replicasets"),)) in m(),
              "the loops to report their queues")
        queues = {dict(labels)["queue"] for name, labels in m()
                  if name == "corral_workqueue_depth"}
        assert {"scheduler", "replicasets", "deployments", "nodes", "gc"} <= queues
        with Client(cp.address) as c:
            c.create(_pod("nowhere"))
        until(lambda: m().get(unsched, 0) >= 1, "an unschedulable attempt")
        assert m()[("corral_scheduler_scheduling_duration_seconds_count", ())] >= 1
