"""The gRPC server: the Api service, standard health checking and reflection.

    server = ApiServer(registry, "127.0.0.1:6445")
    port = await server.start()     # the bound port (useful with ":0")
    ...
    await server.stop()

Health: service "" and "corral.v1.Api" answer SERVING while the server runs
and NOT_SERVING during shutdown; with `track_readiness`, "corral.v1.Api" is
NOT_SERVING while etcd does not answer through this server either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from controlplane.apiserver.access import Authorize
from controlplane.apiserver.agents import ChannelFactory
from controlplane.apiserver.registry import Registry
from controlplane.apiserver.service import ApiService
from controlplane.apiserver.wirewatch import WatchWire
from controlplane.security.tokens import BootstrapTokens
from controlplane.store.encryption import KeyRing
from controlplane.tasks import cancelled_from_outside
from proto import api_pb2, api_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = api_pb2.DESCRIPTOR.services_by_name["Api"].full_name  # corral.v1.Api
MAX_MESSAGE = 64 * 1024 * 1024  # lists of many objects; single objects stay under 1.5 MiB

OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


def with_port(address: str, port: int) -> str:
    """`address` ("host:port", host possibly [v6]) with its port replaced."""
    return f"{address.rpartition(':')[0]}:{port}"


class ApiServer:
    """The server. Security plugs in here (all optional; default: plaintext, open):

    credentials   grpc.ServerCredentials for `listen` (TLS)
    extra_ports   more (address, credentials or None) to serve the same services on,
                  e.g. a bootstrap port; their bound ports end up in `extra_bound`
    interceptors  grpc.aio.ServerInterceptors (authentication)
    authorize     the ApiService's authorization hook (controlplane/apiserver/access.py)
    agent_channel (address, node name) -> grpc.aio.Channel to that node's agent
                  (controlplane/apiserver/agents.py; default: plaintext)
    tokens        the bootstrap token store behind CreateToken/ListTokens/DeleteToken
    encryption_keys  the Secret encryption keys (controlplane/store/encryption.py) behind
                  ListEncryptionKeys/RotateEncryptionKey/RemoveEncryptionKey
    reuse_port    bind with SO_REUSEPORT: API worker processes share the ports
                  (controlplane/workers.py); otherwise a port in use is an error
    """

    def __init__(self, registry: Registry, listen: str = "127.0.0.1:6445", *,
                 credentials: grpc.ServerCredentials | None = None,
                 extra_ports: Sequence[tuple[str, grpc.ServerCredentials | None]] = (),
                 interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
                 authorize: Authorize | None = None,
                 agent_channel: ChannelFactory | None = None,
                 tokens: BootstrapTokens | None = None,
                 encryption_keys: KeyRing | None = None,
                 reuse_port: bool = False) -> None:
        self.registry = registry
        self.reuse_port = reuse_port
        self.listen = listen
        self.port = 0
        self.credentials = credentials
        self.extra_ports = list(extra_ports)
        self.extra_bound: list[int] = []
        self.interceptors = list(interceptors)
        self.service = ApiService(registry, authorize, agent_channel=agent_channel,
                                  tokens=tokens, encryption_keys=encryption_keys)
        self.health = health.aio.HealthServicer()
        self._server: grpc.aio.Server | None = None

    async def start(self) -> int:
        options = [*OPTIONS, ("grpc.so_reuseport", 1 if self.reuse_port else 0)]
        # WatchWire innermost: Watch answers with bytes serialized once (wirewatch.py)
        server = grpc.aio.server(options=options, interceptors=[*self.interceptors, WatchWire()])
        api_pb2_grpc.add_ApiServicer_to_server(self.service, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
        self.port = self._add_port(server, self.listen, self.credentials)
        self.extra_bound = [self._add_port(server, addr, creds)
                            for addr, creds in self.extra_ports]
        await server.start()
        self._server = server
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("API server listening on %s (port %d)", self.listen, self.port)
        return self.port

    async def track_readiness(self, ready: Callable[[], Awaitable[bool]],
                              interval: float = 1.0) -> None:
        """Forever: service corral.v1.Api SERVING while `ready()` (etcd answers through
        this server), else NOT_SERVING. Clients that balance over several control planes
        check it (corral/endpoints.py) and leave one cut off from the etcd majority."""
        serving = True
        while True:
            await asyncio.sleep(interval)       # a timer
            try:
                now = await ready()
            except (Exception, asyncio.CancelledError) as e:   # never end: not ready
                if isinstance(e, asyncio.CancelledError) and cancelled_from_outside():
                    raise
                now = False
            if now != serving and self._server is not None:
                serving = now
                log.warning("API %s: etcd %s", "serving again" if now else "NOT serving",
                            "answers" if now else "does not answer (or has no leader)")
                await self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING
                                      if now else health_pb2.HealthCheckResponse.NOT_SERVING)

    @staticmethod
    def _add_port(server: grpc.aio.Server, address: str,
                  credentials: grpc.ServerCredentials | None) -> int:
        port = (server.add_secure_port(address, credentials) if credentials is not None
                else server.add_insecure_port(address))
        if not port:
            raise OSError(f"cannot listen on {address}")
        return port

    @property
    def address(self) -> str:
        host = self.listen.rpartition(":")[0] or "127.0.0.1"
        if host in ("0.0.0.0", "[::]", ""):
            host = "127.0.0.1"
        return f"{host}:{self.port}"

    @property
    def bound_listen(self) -> str:
        """--listen with the port bound (what a worker binds beside this server)."""
        return with_port(self.listen, self.port)

    def extra_listen(self, index: int) -> str:
        """The `index`th extra port's address with its bound port ("" if none)."""
        if index >= len(self.extra_bound):
            return ""
        return with_port(self.extra_ports[index][0], self.extra_bound[index])

    async def stop(self, grace: float = 2.0) -> None:
        if self._server is None:
            return
        await self.health.enter_graceful_shutdown()
        await self._server.stop(grace)
        self._server = None
        await self.service.close()

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()
