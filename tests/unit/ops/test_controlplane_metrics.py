"""ControlPlaneMetrics without a server: the loops' hook, etcd observations, gauges;
and two instances in one process do not share anything."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from controlplane.metrics import ControlPlaneMetrics


def samples(m: ControlPlaneMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(generate_latest(m.registry).decode())
            for s in fam.samples}


def test_attach_loops_reports_queues_and_scheduler() -> None:
    m = ControlPlaneMetrics()
    sched = SimpleNamespace(bound=3, unschedulable_attempts=2, on_cycle=None)
    loops = SimpleNamespace(scheduler=sched,
                            queues=lambda: {"scheduler": [1, 2], "replicasets": [1], "gc": []})
    m.attach_loops(loops)
    assert sched.on_cycle is not None
    sched.on_cycle(0.002)
    got = samples(m)
    assert got[("corral_workqueue_depth", (("queue", "scheduler"),))] == 2
    assert got[("corral_workqueue_depth", (("queue", "replicasets"),))] == 1
    assert got[("corral_workqueue_depth", (("queue", "gc"),))] == 0
    assert ("corral_workqueue_depth", (("queue", "ipam"),)) not in got
    assert got[("corral_scheduler_attempts_total", (("result", "scheduled"),))] == 3
    assert got[("corral_scheduler_attempts_total", (("result", "unschedulable"),))] == 2
    assert got[("corral_scheduler_scheduling_duration_seconds_count", ())] == 1


def test_etcd_and_watch_gauges_and_separate_registries() -> None:
    a, b = ControlPlaneMetrics(), ControlPlaneMetrics()
    watches = {"pods": 2, "nodes": 1}
    a.watch_source(watches)
    a.etcd_watch_source(lambda: 4)
    a.observe_etcd("reading pods/default/web", 0.01, True)
    a.observe_etcd("reading pods/default/web", 0.01, False)
    a.observe_request("Create", "OK", 0.003)
    got = samples(a)
    assert got[("corral_apiserver_watches", (("resource", "pods"),))] == 2
    assert got[("corral_etcd_watches", ())] == 4
    assert got[("corral_etcd_request_duration_seconds_count",
                (("operation", "reading"), ("result", "error")))] == 1
    assert got[("corral_apiserver_requests_total", (("code", "OK"), ("method", "Create")))] == 1
    other = samples(b)
    assert ("corral_apiserver_requests_total",
            (("code", "OK"), ("method", "Create"))) not in other
    watches["pods"] = 0                  # read live at scrape time
    assert samples(a)[("corral_apiserver_watches", (("resource", "pods"),))] == 0
