"""Prometheus metrics and the /healthz, /readyz endpoints of corral-controlplane.

    m = ControlPlaneMetrics()                  # its own CollectorRegistry
    m.watch_source(api_service.open_watches)   # gauges read at scrape time
    store.conn.observe = m.observe_etcd        # etcd request latency
    ApiServer(..., interceptors=[m.interceptor(), ...])
    http = OpsHttpServer("127.0.0.1:10251", m.registry, ready=check_etcd)
    port = await http.start()                  # GET /metrics, /healthz, /readyz
    await http.stop()

Each process (and each test) makes its own registry; nothing goes to
prometheus_client's global default registry.

Metrics (names as exposed):

    corral_apiserver_requests_total{method,code}             counter
    corral_apiserver_request_duration_seconds{method,code}   histogram
    corral_apiserver_watches{resource}                       gauge: open Watch streams
    corral_kubeapi_requests_total{method,resource,code}      counter: the Kubernetes API (HTTPS)
    corral_kubeapi_request_duration_seconds{method,resource} histogram (watches: their life)
    corral_etcd_request_duration_seconds{operation,result}   histogram
    corral_etcd_watches                                      gauge: open etcd watches
    corral_scheduler_attempts_total{result}                  counter (scheduled|unschedulable)
    corral_scheduler_scheduling_duration_seconds             histogram
    corral_workqueue_depth{queue}                            gauge, per controller queue
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sized
from typing import Protocol

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from controlplane.rpc import Around, CallContext, Req, Resp, Wrapped, wrap

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:10251"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)



class SchedulerView(Protocol):
    """What the metrics read of the scheduler (controlplane/scheduler/scheduler.py)."""

    bound: int
    unschedulable_attempts: int
    on_cycle: Callable[[float], None] | None


class LoopsView(Protocol):
    """What the metrics read of a leader term's loops (controlplane.loops.Loops)."""

    @property
    def scheduler(self) -> SchedulerView: ...

    def queues(self) -> Mapping[str, Sized]:
        """Each loop's work queue by name (its depth is len())."""
        ...


class ControlPlaneMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.api_requests = Counter(
            "corral_apiserver_requests", "API requests handled, by gRPC method and status code",
            ["method", "code"], registry=r)
        self.api_latency = Histogram(
            "corral_apiserver_request_duration_seconds",
            "API request latency (streams: their whole life), by method and status code",
            ["method", "code"], buckets=LATENCY_BUCKETS, registry=r)
        self.kube_requests = Counter(
            "corral_kubeapi_requests", "Kubernetes API requests, by HTTP method, resource "
            "(with its subresource) and HTTP status", ["method", "resource", "code"],
            registry=r)
        self.kube_latency = Histogram(
            "corral_kubeapi_request_duration_seconds",
            "Kubernetes API request latency (watches and streams: their whole life)",
            ["method", "resource"], buckets=LATENCY_BUCKETS, registry=r)
        self.etcd_latency = Histogram(
            "corral_etcd_request_duration_seconds", "etcd request latency by operation",
            ["operation", "result"], buckets=LATENCY_BUCKETS, registry=r)
        self.scheduling_latency = Histogram(
            "corral_scheduler_scheduling_duration_seconds",
            "time from taking a pod off the queue to its binding (or giving up)",
            buckets=LATENCY_BUCKETS, registry=r)
        self._watch_sources: list[Callable[[], Mapping[str, int]]] = []
        self._etcd_watch_sources: list[Callable[[], int]] = []
        self._queues: dict[str, Callable[[], int]] = {}
        self._loops: LoopsView | None = None   # the current leader term's (attach_loops)
        # the metric of each label set seen, by its labels (observed on every call)
        self._request_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._etcd_children: dict[tuple[str, str], Histogram] = {}
        r.register(_Gauges(self))

    def observe_kube(self, method: str, resource: str, code: int, seconds: float) -> None:
        """After each Kubernetes API request (controlplane/httpapi/server.py's hook)."""
        self.kube_requests.labels(method, resource, str(code)).inc()
        self.kube_latency.labels(method, resource).observe(seconds)

    # -- sources read at scrape time ------------------------------------------------------

    def watch_source(self, counts: Mapping[str, int] | Callable[[], Mapping[str, int]]) -> None:
        """Open API watches by resource: a live mapping or a function returning one."""
        self._watch_sources.append(counts if callable(counts) else (lambda: counts))

    def etcd_watch_source(self, fn: Callable[[], int]) -> None:
        self._etcd_watch_sources.append(fn)

    def queue(self, name: str, depth: Callable[[], int]) -> None:
        """Report the depth of a controller's work queue as corral_workqueue_depth{queue=name}."""
        self._queues[name] = depth

    # -- hooks ------------------------------------------------------------------------------

    def observe_etcd(self, what: str, seconds: float, ok: bool) -> None:
        """etcdio.Connection.observe: `what` is the guarded action ("reading pods/...")."""
        key = (what.split(" ", 1)[0] or "other", "ok" if ok else "error")
        child = self._etcd_children.get(key)
        if child is None:   # labels() validates and locks: once per label set
            child = self._etcd_children[key] = self.etcd_latency.labels(*key)
        child.observe(seconds)

    def observe_schedule(self, seconds: float) -> None:
        """The scheduler: one scheduling cycle (filter, score, assume) took `seconds`."""
        self.scheduling_latency.observe(seconds)

    def attach_loops(self, loops: LoopsView) -> None:
        """controlplane.loops' on_loops hook (each leader term): read the scheduler's
        counters and every loop's queue depth at scrape time."""
        self._loops = loops
        loops.scheduler.on_cycle = self.observe_schedule
        self._queues = {name: q.__len__ for name, q in loops.queues().items()}

    def observe_request(self, method: str, code: str, seconds: float) -> None:
        children = self._request_children.get((method, code))
        if children is None:
            children = self._request_children[(method, code)] = (
                self.api_requests.labels(method, code), self.api_latency.labels(method, code))
        children[0].inc()
        children[1].observe(seconds)

    def interceptor(self) -> grpc.aio.ServerInterceptor:
        return MetricsInterceptor(self.observe_request)


class _Gauges(Collector):
    def __init__(self, m: ControlPlaneMetrics) -> None:
        self.m = m

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        watches = GaugeMetricFamily("corral_apiserver_watches",
                                    "open API Watch streams by resource", labels=["resource"])
        totals: dict[str, int] = {}
        for src in self.m._watch_sources:
            for res, n in dict(src()).items():
                totals[res] = totals.get(res, 0) + n
        for res, n in sorted(totals.items()):
            watches.add_metric([res], n)
        yield watches
        etcd = GaugeMetricFamily("corral_etcd_watches", "open etcd watches (fan-out, catch-up)")
        etcd.add_metric([], sum(fn() for fn in self.m._etcd_watch_sources))
        yield etcd
        attempts = CounterMetricFamily("corral_scheduler_attempts",
                                       "scheduling attempts by result (this leader term)",
                                       labels=["result"])
        loops = self.m._loops
        attempts.add_metric(["scheduled"], float(loops.scheduler.bound if loops else 0))
        attempts.add_metric(["unschedulable"],
                            float(loops.scheduler.unschedulable_attempts if loops else 0))
        yield attempts
        queues = GaugeMetricFamily("corral_workqueue_depth", "items waiting in a work queue",
                                   labels=["queue"])
        for name, depth in sorted(self.m._queues.items()):
            with contextlib.suppress(Exception):
                queues.add_metric([name], depth())
        yield queues


# -- the gRPC interceptor ------------------------------------------------------------------

def _code(context: CallContext, exc: BaseException | None) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    code: object = None
    with contextlib.suppress(Exception):
        code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):   # grpc.aio may answer the number
        for c in grpc.StatusCode:
            if c.value[0] == code:
                return c.name
    return "UNKNOWN" if exc is not None else "OK"


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts every RPC and times it, by method (e.g. "Create") and final status code."""

    def __init__(self, observe: Callable[[str, str, float], None]) -> None:
        self.observe = observe
        self.wrapped = Wrapped()

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails],
                                         Awaitable[grpc.RpcMethodHandler[Req, Resp] | None]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Req, Resp] | None:
        handler = await continuation(details)
        if handler is None:
            return None
        full = str(details.method)
        return self.wrapped.get(full, handler, lambda h: wrap(h, self._timer(full)))

    def _timer(self, full_method: str) -> Around:
        method = full_method.rsplit("/", 1)[-1]
        observe = self.observe

        @contextlib.asynccontextmanager
        async def timed(context: CallContext) -> AsyncIterator[None]:
            t0, exc = time.monotonic(), None
            try:
                yield
            except BaseException as e:
                exc = e
                raise
            finally:
                observe(method, _code(context, exc), time.monotonic() - t0)

        return timed


# -- the HTTP endpoint ---------------------------------------------------------------------
