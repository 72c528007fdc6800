"""corral-controlplane: the API server, plus the scheduler and controllers.

    corral-controlplane                  # embedded etcd in /var/lib/corral/controlplane
    corral-controlplane --etcd 10.0.0.5:2379,10.0.0.6:2379 --listen 0.0.0.0:6445
    corral-controlplane --metrics-listen 0.0.0.0:10251 --log-format json

High availability (controlplane/members/): several members, each with its own
member of one etcd cluster (mutual TLS between them, certificates from the
cluster CA), the loops on whichever member holds the leader lease:

    corral-controlplane --cluster-init --listen 10.0.0.5:6445 ...          # the first
    corral-controlplane --join 10.0.0.5:6444 --token ID.SECRET --ca-cert-hash sha256:... \
                        --listen 10.0.0.6:6445 ...                          # the others

Two doors to one registry: corral's gRPC API on --listen (default port 6445) and the
Kubernetes API over HTTPS on --kube-listen (default: the --listen host, port 6443),
for kubectl and Kubernetes client libraries (controlplane/httpapi/).

Metrics (Prometheus), /healthz and /readyz (ready: etcd answers) are served on
--metrics-listen (default 127.0.0.1:10251; 0 disables them); see docs/operations.md.

The scheduler and controllers (with leader election) are
`controlplane.loops.run_loops`, run beside the API server until shutdown
(cancelled on SIGTERM/SIGINT) with the in-process Registry as their client.
`--no-loops` serves the API only.

Security: `controlplane.security.flags.add_arguments(parser)` adds its flags,
`controlplane.security.serve.prepare(args)` makes the PKI files (run while etcd
starts: agents can join with the CA hash sooner), and its
`server_security(args, etcd)` returns the keyword arguments for `ApiServer`
(credentials, extra_ports, interceptors, authorize, agent_channel, tokens).
Every part is a plain import: a missing one stops the start with an ImportError.

Start-up order, for a fast `corral cluster up`: parse the flags (no gRPC or
TLS imported yet), start the embedded etcd without waiting, write the PKI and
import the API server while etcd comes up, then wait for etcd.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from controlplane import atrest, logs, workers
from controlplane.etcd import EmbeddedEtcd
from controlplane.members import flags as member_flags
from controlplane.security import flags as security_flags

if TYPE_CHECKING:
    from controlplane.apiserver.registry import Registry
    from controlplane.httpapi.server import KubeApiServer
    from controlplane.store.etcd_store import Store

log = logging.getLogger("controlplane")
DEFAULT_METRICS_LISTEN = "127.0.0.1:10251"   # controlplane.metrics.DEFAULT_LISTEN


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="corral-controlplane", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", default="127.0.0.1:6445", metavar="HOST:PORT",
                   help="where the gRPC API server listens (default %(default)s)")
    p.add_argument("--kube-listen", default="", metavar="HOST:PORT",
                   help="where the Kubernetes API (HTTPS) listens (default: the --listen "
                        "host, port 6443; 0: not served)")
    p.add_argument("--etcd", default="", metavar="HOST:PORT,...",
                   help="external etcd endpoints; without it an embedded etcd is started")
    p.add_argument("--embedded-etcd", action="store_true",
                   help="start and own an etcd process (the default when --etcd is not given)")
    p.add_argument("--etcd-port", type=int, default=2379,
                   help="client port of the embedded etcd (default %(default)s; 0: any free)")
    p.add_argument("--etcd-peer-port", type=int, default=2380,
                   help="peer port of the embedded etcd (default %(default)s; 0: any free)")
    p.add_argument("--data-dir", default="/var/lib/corral/controlplane",
                   help="state directory (the embedded etcd's data lives in DATA_DIR/etcd)")
    p.add_argument("--profile", choices=("default", "demo"), default="default",
                   help="timing profile of the control loops (see controlplane/profiles.py)")
    p.add_argument("--compaction-interval", type=float, default=300.0, metavar="SECONDS",
                   help="compact etcd history older than this (default %(default)s; 0: never)")
    p.add_argument("--identity", default=None,
                   help="this replica's name in leader election (default: host name and pid)")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16",
                   help="pod network of the cluster, split into per-node pod CIDRs "
                        "(default %(default)s)")
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/12", metavar="CIDR",
                   help="cluster IPs of Services come from here; the first is the "
                        "`kubernetes` Service's, the tenth the cluster DNS address "
                        "(default %(default)s)")
    p.add_argument("--service-node-port-range", default="30000-32767", metavar="FROM-TO",
                   help="node ports of NodePort Services (default %(default)s)")
    p.add_argument("--advertise-address", default="", metavar="IP",
                   help="this control plane's address: what the `kubernetes` Service's "
                        "endpoints name, and with --cluster-init/--join what the other "
                        "members, etcd peers and clients use (default: the Kubernetes API's "
                        "listen host, or the default route's)")
    p.add_argument("--no-loops", action="store_true",
                   help="serve the API only: no scheduler, no controllers")
    p.add_argument("--log-level", default="info", type=str.lower, choices=logs.LEVELS,
                   help="least severe level logged (default %(default)s)")
    p.add_argument("--log-format", default="text", choices=logs.FORMATS,
                   help="text, or json: one JSON object per line with ts, level, logger, msg "
                        "and fields such as pod and node (default %(default)s)")
    p.add_argument("--metrics-listen", default=DEFAULT_METRICS_LISTEN, metavar="HOST:PORT",
                   help="serve Prometheus /metrics, /healthz and /readyz over HTTP here "
                        "(default %(default)s; 0: off)")
    atrest.add_arguments(p)
    security_flags.add_arguments(p)
    member_flags.add_arguments(p)
    workers.add_arguments(p)
    args = p.parse_args(argv)
    from controlplane.apiserver.services.network import NetworkConfigError, ServiceNetwork
    try:
        args.service_network = ServiceNetwork.parse(args.service_cluster_ip_range,
                                                    args.service_node_port_range)
    except NetworkConfigError as e:
        p.error(str(e))
    # the serving certificate names the `kubernetes` Service, as kube-apiserver's does
    args.tls_san = [*args.tls_san, args.service_network.kubernetes_ip, "kubernetes",
                    "kubernetes.default", "kubernetes.default.svc"]
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.api_workers < 1:
        p.error("--api-workers must be at least 1")
    if args.etcd and args.embedded_etcd:
        p.error("--etcd and --embedded-etcd exclude each other")
    args.embedded_etcd = not args.etcd
    problem = member_flags.check(args)
    if problem:
        p.error(problem)
    return args


async def _start_registry(registry: Registry, deadline: float = 60.0) -> None:
    """Ensure the system namespaces; wait for etcd to answer (up to `deadline` s)."""
    from controlplane import errors

    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        try:
            await registry.start()
            return
        except errors.Unavailable as e:
            if loop.time() > end:
                raise
            log.warning("waiting for etcd: %s", e)
            await asyncio.sleep(1)


async def run(args: argparse.Namespace, etcd_endpoints: str | list[str],
              etcd: EmbeddedEtcd | None = None) -> int:
    from common.opshttp import start_ops_server
    from controlplane.apiserver.registry import Registry
    from controlplane.apiserver.server import ApiServer
    from controlplane.apiserver.services.apiserver import ApiServerEndpoints, advertise_address
    from controlplane.etcdsupervisor import supervise
    from controlplane.httpapi.serve import start as start_kube_api
    from controlplane.leader import LeaderElector
    from controlplane.loops import run_loops
    from controlplane.members.rpc import Members, member_handlers
    from controlplane.members.serving import etcd_tls_of, member_sync
    from controlplane.metrics import ControlPlaneMetrics
    from controlplane.security.serve import server_security
    from controlplane.store.compactor import run_compactor
    from controlplane.store.etcd_store import Store

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    keyring = getattr(args, "keyring", None) or atrest.open_keyring(args)
    store = Store(etcd_endpoints, tls=etcd_tls_of(args),
                  transformers={atrest.RESOURCE: keyring})
    metrics = ControlPlaneMetrics()
    store.conn.observe = metrics.observe_etcd
    metrics.etcd_watch_source(lambda: store.conn.open_watches)
    ops = None
    server: ApiServer | None = None
    kube: KubeApiServer | None = None
    loops_task: asyncio.Task[None] | None = None
    compactor: asyncio.Future[None] | None = None
    electors: list[LeaderElector] = []
    background: list[asyncio.Future[None]] = []   # end the process if they end
    kubernetes_svc: asyncio.Future[None] | None = None
    api_workers: workers.Workers | None = None
    try:
        registry = Registry(store, service_network=args.service_network)
        await _start_registry(registry)
        await atrest.check_stored(store, keyring)   # the wrong key file: refuse to start
        members = Members(Path(args.data_dir), store.conn, clustered=args.clustered,
                          key_file=atrest.key_file(args))
        server_kwargs = await server_security(args, store.conn, member_handlers(members))
        server_kwargs["interceptors"] = [metrics.interceptor(),
                                         *server_kwargs.get("interceptors", ())]
        server = ApiServer(registry, args.listen, encryption_keys=keyring,
                           reuse_port=workers.reuse_port(args), **server_kwargs)
        metrics.watch_source(server.service.open_watches)
        await server.start()
        kube = await start_kube_api(args, registry, server.service.access,
                                    server.service.agents, metrics.observe_kube)
        if args.api_workers > 1 and not args.api_worker_of:
            etcd_list = etcd_endpoints if isinstance(etcd_endpoints, str) \
                else ",".join(etcd_endpoints)     # (not clustered: refused in parse_args)
            api_workers = workers.Workers(workers.worker_argv(
                args.argv, parent=os.getpid(), etcd=etcd_list, listen=server.bound_listen,
                kube_listen=kube.bound_listen if kube else "",
                bootstrap_listen=server.extra_listen(0)), args.api_workers - 1)
            await api_workers.start()
        ops = await start_ops_server(args.metrics_listen, metrics.registry,
                                     ready=lambda: etcd_ready(store))
        background.append(asyncio.ensure_future(server.track_readiness(
            lambda: _ready(store))))
        if etcd is not None:            # restarted when it dies, like systemd would
            background.append(asyncio.ensure_future(supervise(etcd)))
        if args.clustered:
            background.append(asyncio.ensure_future(member_sync(args, store.conn, electors)))
        if not args.no_loops:
            loops_task = asyncio.ensure_future(run_loops(
                registry, identity=args.identity, profile=args.profile,
                store_endpoints=etcd_endpoints, cluster_cidr=args.cluster_cidr,
                on_loops=metrics.attach_loops, elector_out=electors,
                etcd_tls=store.conn.tls))
        if args.compaction_interval > 0:
            compactor = asyncio.ensure_future(run_compactor(store, args.compaction_interval))
        # the `kubernetes` Service and this API server among its endpoints (every replica;
        # its --api-workers share its address and need no entry of their own): the
        # Kubernetes API's port, as kube-apiserver's (the gRPC port without it)
        endpoint = kube.address if kube is not None else server.address
        if not args.api_worker_of:
            kubernetes_svc = asyncio.ensure_future(ApiServerEndpoints(
                registry, args.service_network,
                advertise_address(endpoint, args.advertise_address),
                int(endpoint.rpartition(":")[2])).run())
        print(f"corral-controlplane: serving on {server.address}"
              + (f", Kubernetes API on {kube.url}" if kube else ""), flush=True)
        waiters = [asyncio.ensure_future(_stopped(stop)), *background]
        if loops_task is not None:
            waiters.append(loops_task)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in [loops_task, *background]:
            if task is not None and task.done() and not stop.is_set():
                task.result()  # ended on its own (loops, a removed etcd member): say why
        log.info("shutting down")
        return 0
    finally:
        for task in background:
            task.cancel()
        if kubernetes_svc is not None:
            kubernetes_svc.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await kubernetes_svc
        if api_workers is not None:
            await api_workers.stop()
        if compactor is not None:
            compactor.cancel()
        if loops_task is not None:
            loops_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loops_task
        if ops is not None:
            await ops.stop()
        if kube is not None:
            await kube.stop()
        if server is not None:
            await server.stop()
        await store.close()


async def _stopped(stop: asyncio.Event) -> None:
    await stop.wait()


async def _ready(store: Store) -> bool:
    return (await etcd_ready(store, 1.0))[0]


async def etcd_ready(store: Store, timeout: float = 2.0) -> tuple[bool, str]:
    """/readyz: ready while etcd answers a read within `timeout` seconds."""
    from controlplane import errors

    try:
        rev = await asyncio.wait_for(store.conn.revision(), timeout)
    except (TimeoutError, errors.ApiError) as e:
        return False, f"etcd unreachable: {e or 'timed out'}"
    return True, f"ok (etcd revision {rev})"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.api_worker_of:
        workers.die_with_parent(args.api_worker_of)
    logs.setup(args.log_level, args.log_format)
    etcd: EmbeddedEtcd | None = None
    try:
        if args.clustered:      # a member of a clustered etcd; joins on its first start
            from controlplane.members.startup import become_voter, plan_member
            plan = args.member_plan = plan_member(args)
            etcd = plan.etcd
            etcd.start(wait=False)
        elif args.embedded_etcd:
            # started from the main thread: it dies with us even on SIGKILL
            etcd = EmbeddedEtcd(Path(args.data_dir) / "etcd", client_port=args.etcd_port,
                                peer_port=args.etcd_peer_port, die_with_parent=True)
            etcd.start(wait=False)
        # while etcd starts: the cluster CA and ca.hash (agents may start now), imports
        from controlplane.security.serve import prepare
        args.prepared_security = prepare(args)
        args.keyring = atrest.open_keyring(args)    # Secrets' keys, beside the cluster CA
        import controlplane.apiserver.server  # noqa: F401 (its imports, while etcd starts)
        endpoints: str | list[str] = args.etcd
        if args.clustered:
            asyncio.run(become_voter(plan))     # a learner until it caught up
            endpoints = plan.endpoints
        if etcd is not None:
            etcd.wait_healthy()
            log.info("embedded etcd running at %s (pid %s)", etcd.endpoint, etcd.pid)
            endpoints = endpoints or etcd.endpoint
        return asyncio.run(run(args, endpoints, etcd))
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        log.error("corral-controlplane failed: %s", e, exc_info=args.log_level == "debug")
        return 1
    finally:
        if etcd is not None:
            etcd.stop()


if __name__ == "__main__":
    sys.exit(main())
