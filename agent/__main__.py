"""corral-agent: the node agent.

    corral-agent --server HOST:PORT --node-name NAME --data-dir DIR
                 [--listen HOST:PORT] [--node-ip IP] [--profile default|demo]
                 [--reserve-cpu 100m] [--reserve-memory 256Mi] [--cgroup-root corral]
                 [--pods-limit 110] [--log-level INFO]

Stopping the agent (SIGTERM, SIGINT, or kill -9) never stops containers: each
has its own shim; the next agent re-adopts them.
"""

from __future__ import annotations

import os

# pyroute2 and the runtime fork helpers while gRPC threads run: gRPC's fork
# handlers must stay out of the way (set before grpc is imported)
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import asyncio
import logging
import signal
import sys

from agent.adapters import GrpcApi
from agent.backoff import RetryBackoff
from agent.config import AgentConfig, parse_args
from agent.node import NodeAgent
from agent.podsync.events import EventRecorder
from agent.podsync.manager import PodManager
from agent.podsync.state import PodStateStore
from agent.podsync.statussync import StatusSender
from agent.podsync.worker import SyncContext
from agent.ports import ApiPort, ContainerRuntimePort, ImagePort, NetworkPort
from agent.server import AgentService, serve

log = logging.getLogger("corral.agent")

Ports = tuple[ContainerRuntimePort, ImagePort, NetworkPort]


def real_ports(cfg: AgentConfig) -> Ports:
    from agent import adapters
    return adapters.build_ports(cfg)


async def run_agent(cfg: AgentConfig, ports: Ports | None = None,
                    api: ApiPort | None = None, stop: asyncio.Event | None = None) -> None:
    os.makedirs(cfg.data_dir, exist_ok=True)
    grpc_api = None
    if api is None:
        grpc_api = GrpcApi(cfg.server)
        api = grpc_api
    runtime, images, network = ports or real_ports(cfg)
    p = cfg.profile
    statuses = StatusSender(api, RetryBackoff(p.api_retry_initial, p.api_retry_max))
    events = EventRecorder(api, cfg.node_name, RetryBackoff(p.api_retry_initial, p.api_retry_max))
    ctx = SyncContext(runtime=runtime, images=images, network=network, api=api,
                      statuses=statuses, store=PodStateStore(cfg.data_dir), profile=p,
                      node_name=cfg.node_name, host_ip=cfg.node_ip, events=events)
    manager = PodManager(ctx)
    manager.restore()
    node = NodeAgent(cfg, api, network)
    service = AgentService(cfg.node_name, manager, runtime, images, node.facts.cpu_millis)
    server, port = await serve(service, cfg.listen)
    node.port = port
    await node.restore_network()
    log.info("corral-agent %s: node %s, control plane %s, data %s, profile %s",
             runtime.version(), cfg.node_name, cfg.server, cfg.data_dir, p.name)

    async def node_loops() -> None:
        await node.register()
        await asyncio.gather(node.run_heartbeat(), node.run_status(), node.run_routes())

    tasks = [asyncio.ensure_future(t) for t in (
        statuses.run(), events.run(), manager.run_pleg(), manager.run_source(), node_loops())]
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
        await server.stop(grace=1)
        if grpc_api is not None:
            await grpc_api.close()


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    logging.basicConfig(level=getattr(logging, cfg.log_level, logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    for noisy in ("pyroute2", "grpc", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

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
        await run_agent(cfg, stop=stop)

    try:
        asyncio.run(_main())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
