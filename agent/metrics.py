"""Prometheus metrics and the /healthz, /readyz endpoints of corral-agent.

    m = AgentMetrics("node-1")                 # its own CollectorRegistry
    m.pods_source(lambda: manager.workers.values())   # read at scrape time
    m.heartbeat_source(lambda: node.last_heartbeat)    # time.monotonic() of the last renewal
    ctx.on_container_start = m.container_started
    image_service.on_pull = m.image_pulled
    http = await start_ops_server("10.0.0.5:10255", m.registry, ready=...)

The HTTP server is a copy of controlplane/metrics.py's (the agent may not
import controlplane). Metrics (names as exposed):

    corral_agent_pods{node,phase}                         gauge: pods this agent runs, by phase
    corral_agent_container_starts_total{node}             counter: containers started
    corral_agent_container_restarts_total{node}           counter: of which restarts
    corral_agent_image_pull_bytes_total{node}             counter: layer bytes downloaded
    corral_agent_image_pull_duration_seconds{node,result} histogram
    corral_agent_registered{node}                         gauge: 1 once the Node is registered
    corral_agent_heartbeat_age_seconds{node}              gauge: since the last lease renewal
    corral_agent_proxy_sync_duration_seconds{node,kind}   histogram: service proxy syncs
                                                          (kind full|partial)
    corral_agent_dns_queries_total{node}                  counter: cluster DNS queries
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable

# submodules, not the package: the agent skips prometheus_client's __init__ and its
# exposition imports until /metrics is scraped (agent/leanstart.py)
from prometheus_client.metrics import Counter, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

log = logging.getLogger("corral.agent.metrics")

DEFAULT_PORT = 10255
PULL_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
SYNC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class AgentMetrics:
    def __init__(self, node: str, registry: CollectorRegistry | None = None) -> None:
        self.node = node
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.starts = Counter("corral_agent_container_starts", "containers started",
                              ["node"], registry=r).labels(node)
        self.restarts = Counter("corral_agent_container_restarts",
                                "containers started again after an exit", ["node"],
                                registry=r).labels(node)
        self.pull_bytes = Counter("corral_agent_image_pull_bytes",
                                  "image bytes downloaded from registries", ["node"],
                                  registry=r).labels(node)
        self.pull_duration = Histogram("corral_agent_image_pull_duration_seconds",
                                       "image pull duration", ["node", "result"],
                                       buckets=PULL_BUCKETS, registry=r)
        self.proxy_sync = Histogram("corral_agent_proxy_sync_duration_seconds",
                                    "service proxy syncs: rules built and committed",
                                    ["node", "kind"], buckets=SYNC_BUCKETS, registry=r)
        self._dns_queries: Callable[[], int] = lambda: 0
        self._pods: Callable[[], Iterable[str]] = lambda: ()
        self._heartbeat: Callable[[], float | None] = lambda: None
        self._registered: Callable[[], bool] = lambda: False
        r.register(_Gauges(self))

    def pods_source(self, phases: Callable[[], Iterable[str]]) -> None:
        """`phases()`: the phase of every pod this agent runs now."""
        self._pods = phases

    def heartbeat_source(self, last: Callable[[], float | None],
                         registered: Callable[[], bool]) -> None:
        """`last()`: time.monotonic() of the last successful lease renewal (None: never)."""
        self._heartbeat = last
        self._registered = registered

    def heartbeat_age(self) -> float | None:
        last = self._heartbeat()
        return None if last is None else max(0.0, time.monotonic() - last)

    # hooks
    def container_started(self, pod: str, container: str, restart: bool) -> None:
        self.starts.inc()
        if restart:
            self.restarts.inc()

    def proxy_synced(self, seconds: float, full: bool) -> None:
        self.proxy_sync.labels(self.node, "full" if full else "partial").observe(seconds)

    def dns_source(self, queries: Callable[[], int]) -> None:
        """`queries()`: DNS queries answered so far (read at scrape time)."""
        self._dns_queries = queries

    def image_pulled(self, ref: str, nbytes: int, seconds: float, ok: bool) -> None:
        if nbytes:
            self.pull_bytes.inc(nbytes)
        self.pull_duration.labels(self.node, "ok" if ok else "error").observe(seconds)


class _Gauges(Collector):
    def __init__(self, m: AgentMetrics) -> None:
        self.m = m

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        pods = GaugeMetricFamily("corral_agent_pods", "pods on this node by phase",
                                 labels=["node", "phase"])
        counts = dict.fromkeys(PHASES, 0)
        with contextlib.suppress(Exception):
            for phase in self.m._pods():
                counts[phase or "Pending"] = counts.get(phase or "Pending", 0) + 1
        for phase, n in counts.items():
            pods.add_metric([self.m.node, phase], n)
        yield pods
        reg = GaugeMetricFamily("corral_agent_registered", "1 once the Node is registered",
                                labels=["node"])
        reg.add_metric([self.m.node], 1 if self.m._registered() else 0)
        yield reg
        age = GaugeMetricFamily("corral_agent_heartbeat_age_seconds",
                                "seconds since the last successful lease renewal "
                                "(absent before the first)", labels=["node"])
        a = self.m.heartbeat_age()
        if a is not None:
            age.add_metric([self.m.node], a)
        yield age
        dns = CounterMetricFamily("corral_agent_dns_queries", "cluster DNS queries answered "
                                  "by this node", labels=["node"])
        dns.add_metric([self.m.node], self.m._dns_queries())
        yield dns
