"""corral-agent: the node agent.

    corral-agent --server HOST:PORT --node-name NAME --data-dir DIR
                 [--listen HOST:PORT] [--node-ip IP] [--profile default|demo]
                 [--reserve-cpu 100m] [--reserve-memory 256Mi] [--cgroup-root corral]
                 [--pods-limit 110] [--log-level INFO] [--log-format text|json]
                 [--metrics-listen 127.0.0.1:10255]  # /metrics /healthz /readyz; 0: off
                 [--token ID.SECRET --ca-cert-hash sha256:HEX [--bootstrap-server HOST:6444]]
                 [--insecure]     # plaintext both ways, only when listening on loopback

Security (agent/security.py): on first start the agent joins with --token, pinning
the cluster CA by --ca-cert-hash, and keeps its node certificate in DATA_DIR/pki;
afterwards it loads (and renews) that certificate. It talks mutual TLS to the
control plane, and its Agent service (logs, exec, stats, images) accepts only the
control plane's client certificate.

Stopping the agent (SIGTERM, SIGINT, or kill -9) never stops containers: each
has its own shim; the next agent re-adopts them.
"""

from __future__ import annotations

import os

# pyroute2 and the runtime fork helpers while gRPC threads run: gRPC's fork
# handlers must stay out of the way (set before grpc is imported)
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from agent import (
    leanboot,  # noqa: F401  (first: prometheus_client without its __init__)
    leanstart,
    logs_setup,
    security,
)
from agent.adapters import GrpcApi
from agent.backoff import RetryBackoff
from agent.config import AgentConfig, parse_args
from agent.localpath import LocalPathCleaner
from agent.metrics import DEFAULT_PORT as DEFAULT_METRICS_PORT
from agent.metrics import AgentMetrics
from agent.node import NodeAgent
from agent.nodeservices import NodeServices
from agent.podsync import emptydir
from agent.podsync.events import EventRecorder
from agent.podsync.manager import PodManager
from agent.podsync.state import PodStateStore
from agent.podsync.statussync import StatusSender
from agent.podsync.worker import PodWorker, SyncContext
from agent.ports import ApiPort, ContainerRuntimePort, ImagePort, NetworkPort
from agent.security import AgentTLS, NodeCredentials
from agent.server import AgentService, images_in_use, serve
from common.opshttp import start_ops_server

log = logging.getLogger("corral.agent")

Ports = tuple[ContainerRuntimePort, ImagePort, NetworkPort]


def real_ports(cfg: AgentConfig) -> Ports:
    from agent import adapters
    return adapters.build_ports(cfg)


async def start_tls(cfg: AgentConfig, stop: asyncio.Event | None) -> AgentTLS | None:
    """The node's credentials: stored, or by joining. An unreachable control plane is
    retried (it may still be starting); a refusal or a CA mismatch is final. None: stopped."""
    backoff = RetryBackoff(cfg.profile.api_retry_initial, cfg.profile.api_retry_max)
    while True:
        try:
            return await AgentTLS.start(Path(cfg.data_dir) / "pki", cfg.node_name,
                                        server=cfg.server, bootstrap=cfg.bootstrap_server,
                                        token=cfg.token, ca_hash=cfg.ca_cert_hash)
        except (security.CAHashMismatch, security.JoinRefused):
            raise
        except security.JoinError as e:
            if not (cfg.token and cfg.ca_cert_hash):
                raise        # nothing to join with: say so at once
            delay = backoff.next()
            log.warning("joining the cluster: %s; retrying in %.1fs", e, delay)
            if stop is None:
                await asyncio.sleep(delay)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return None


async def run_agent(cfg: AgentConfig, ports: Ports | None = None,
                    api: ApiPort | None = None, stop: asyncio.Event | None = None,
                    metrics_listen: str = "") -> None:
    """Run until `stop`. `metrics_listen` HOST:PORT serves /metrics, /healthz and /readyz
    ("" or "0": not served). The service proxy and the cluster DNS run as `cfg` says
    (agent/nodeservices.py)."""
    os.makedirs(cfg.data_dir, exist_ok=True)
    # security: join (first start) or load <data>/pki, then mTLS both ways; --insecure
    # (loopback only, agent/config.py) keeps everything plaintext
    tls: AgentTLS | None = None
    if not cfg.insecure:
        tls = await start_tls(cfg, stop)
        if tls is None:
            return
    grpc_api = None
    if api is None:
        grpc_api = GrpcApi(cfg.server,
                           credentials=tls.channel_credentials() if tls is not None else None)
        api = grpc_api
    runtime, images, network = ports or real_ports(cfg)
    p = cfg.profile
    statuses = StatusSender(api, RetryBackoff(p.api_retry_initial, p.api_retry_max))
    events = EventRecorder(api, cfg.node_name, RetryBackoff(p.api_retry_initial, p.api_retry_max))
    from agent.adapters.servicenet import ServiceNetAdapter, dial_pod
    node_services = NodeServices(cfg, api,    # proxy and DNS as cfg says; env, resolv.conf
                                 ServiceNetAdapter() if ports is None else None)
    ctx = SyncContext(runtime=runtime, images=images, network=network, api=api,
                      statuses=statuses, store=PodStateStore(cfg.data_dir), profile=p,
                      node_name=cfg.node_name, host_ip=cfg.node_ip, events=events,
                      services=node_services)
    metrics = AgentMetrics(cfg.node_name)
    ctx.on_container_start = metrics.container_started
    image_service = getattr(images, "svc", None)      # ImagesAdapter's ImageService
    if image_service is not None and hasattr(image_service, "on_pull"):
        image_service.on_pull = metrics.image_pulled
    manager = PodManager(ctx)
    if image_service is not None:   # image GC above the disk threshold keeps the pods' images
        image_service.in_use = lambda: images_in_use(manager)
    manager.restore()
    node = NodeAgent(cfg, api, network)
    metrics.pods_source(lambda: [pod_phase(w) for w in list(manager.workers.values())])
    metrics.heartbeat_source(lambda: node.last_heartbeat, node.registered.is_set)
    service = AgentService(cfg.node_name, manager, runtime, images, node.facts.cpu_millis,
                           dial_pod=dial_pod)
    if image_service is not None and ports is None:      # the real node: it builds images
        from agent import adapters
        from agent.buildrpc import BuildCalls
        service.builds = BuildCalls(adapters.build_backend(cfg, image_service, network),
                                    cfg.data_dir, cfg.max_build_context)
    if tls is not None:
        server, port = await serve(service, cfg.listen, tls.server_credentials(),
                                   tls.interceptors())
    else:
        server, port = await serve(service, cfg.listen)
    node.port = port
    ops = await start_ops_server(metrics_listen, metrics.registry,
                                 ready=lambda: agent_ready(node, metrics))
    await node.routes.restore()
    service_loops = await node_services.start()
    node_services.observe(metrics)
    log.info("corral-agent %s: node %s, control plane %s, data %s, profile %s",
             runtime.version(), cfg.node_name, cfg.server, cfg.data_dir, p.name)

    async def node_loops() -> None:
        await node.register()
        await asyncio.gather(node.run_heartbeat(), node.run_status(), node.routes.run(),
                             LocalPathCleaner(cfg, api).run())

    loops = [statuses.run(), events.run(), manager.run_pleg(), manager.run_source(),
             node_loops(),
             emptydir.run(lambda: list(manager.workers.values()), p.volume_usage_interval),
             *service_loops]
    if tls is not None:
        async def renewed(new: NodeCredentials) -> None:
            if grpc_api is not None:
                await grpc_api.reconnect(security.channel_credentials(new))

        loops.append(tls.run_renewal(on_renewed=renewed))
    tasks = [asyncio.ensure_future(t) for t in loops]
    stop = stop or asyncio.Event()
    waiter = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not waiter:
                exc = t.exception()
                if exc is not None:
                    raise exc
                raise RuntimeError(f"an agent loop ended unexpectedly: {t!r}")
    finally:
        log.info("corral-agent stopping (containers keep running)")
        waiter.cancel()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await manager.stop()
        node_services.stop()          # DNS stops; the service rules stay (traffic flows on)
        await server.stop(grace=1)
        if ops is not None:
            await ops.stop()
        if grpc_api is not None:
            await grpc_api.close()


def pod_phase(w: PodWorker) -> str:
    """The phase this agent last computed for the pod (else the one the API has)."""
    return w.last_status.phase if w.last_status is not None else w.pod.status.phase


async def agent_ready(node: NodeAgent, metrics: AgentMetrics) -> tuple[bool, str]:
    """/readyz: the Node is registered and its lease was renewed within its duration."""
    if not node.registered.is_set():
        return False, "node not registered yet"
    age = metrics.heartbeat_age()
    limit = node.cfg.profile.lease_duration
    if age is None:
        return False, "no heartbeat yet"
    if age > limit:
        return False, f"last heartbeat {age:.0f}s ago (lease duration {limit}s)"
    return True, f"ok (heartbeat {age:.1f}s ago)"


def ops_parser() -> argparse.ArgumentParser:
    """The operability flags, parsed before (and beside) agent/config.py's."""
    p = argparse.ArgumentParser(prog="corral-agent", add_help=False, allow_abbrev=False,
                                usage=argparse.SUPPRESS)
    g = p.add_argument_group("logs and metrics")
    g.add_argument("--log-format", default="text", choices=logs_setup.FORMATS,
                   help="text, or json: one JSON object per line with ts, level, logger, msg "
                        "and fields such as pod and node (default %(default)s)")
    g.add_argument("--metrics-listen", default="", metavar="HOST:PORT",
                   help=f"serve Prometheus /metrics, /healthz and /readyz over HTTP here "
                        f"(default 127.0.0.1:{DEFAULT_METRICS_PORT}: no credentials, so "
                        "loopback unless you choose otherwise; 0: off)")
    return p


def parse_all(argv: list[str] | None = None) -> tuple[AgentConfig, argparse.Namespace]:
    argv = sys.argv[1:] if argv is None else list(argv)
    ops = ops_parser()
    if "-h" in argv or "--help" in argv:
        ops.print_help()
        print()
    known, rest = ops.parse_known_args(argv)
    cfg = parse_args(rest)
    if not known.metrics_listen:
        known.metrics_listen = f"127.0.0.1:{DEFAULT_METRICS_PORT}"
    return cfg, known


def main(argv: list[str] | None = None) -> int:
    leanstart.limit_malloc_arenas()
    leanstart.lean_pyroute2()
    cfg, ops = parse_all(argv)
    level = cfg.log_level if cfg.log_level in logging.getLevelNamesMapping() else "INFO"
    logs_setup.setup(level, ops.log_format)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        me = os.getpid()

        # Not loop.add_signal_handler: its wakeup fd is inherited by the children
        # that pyroute2 and the runtime fork, and a signal to one of them would
        # stop the agent. A plain handler runs in the process that got the signal.
        def on_signal(signum: int, frame: object) -> None:
            if os.getpid() == me:
                loop.call_soon_threadsafe(stop.set)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
        await run_agent(cfg, stop=stop, metrics_listen=ops.metrics_listen)

    try:
        asyncio.run(_main())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
