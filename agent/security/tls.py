"""AgentTLS: everything the agent process needs from its credentials, in one object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from agent.security.channel import ReloadingServerCredentials, channel_credentials
from agent.security.guard import ControlPlaneOnly
from agent.security.join import ensure_credentials
from agent.security.renew import run_renewal
from agent.security.store import NodeCredentials


class AgentTLS:
    """Everything the agent process needs, in one object.

        tls = await AgentTLS.start(Path(cfg.data_dir) / "pki", cfg.node_name,
                                   server=cfg.server, bootstrap=cfg.bootstrap_server,
                                   token=cfg.token, ca_hash=cfg.ca_cert_hash)
        channel = grpc.aio.secure_channel(cfg.server, tls.channel_credentials(), options)
        server = grpc.aio.server(interceptors=tls.interceptors())
        server.add_secure_port(listen, tls.server_credentials())
        asyncio.ensure_future(tls.run_renewal(on_renewed=reconnect))
    """

    def __init__(self, directory: Path, creds: NodeCredentials, server: str,
                 server_name: str | None = None) -> None:
        self.directory = Path(directory)
        self.creds = creds
        self.server = server
        self.server_name = server_name
        self._reloading = ReloadingServerCredentials(creds)

    @classmethod
    async def start(cls, directory: Path, node_name: str, *, server: str,
                    bootstrap: str = "", token: str = "", ca_hash: str = "",
                    server_name: str | None = None) -> AgentTLS:
        creds = await ensure_credentials(directory, node_name, bootstrap=bootstrap,
                                         token=token, ca_hash=ca_hash,
                                         server_name=server_name)
        return cls(directory, creds, server, server_name)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return channel_credentials(self.creds)

    def channel_options(self) -> list[tuple[str, Any]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name \
            else []

    def server_credentials(self) -> grpc.ServerCredentials:
        return self._reloading.credentials()

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        return [ControlPlaneOnly()]

    async def run_renewal(self, on_renewed: Callable[[NodeCredentials], Awaitable[None]]
                          | None = None) -> None:
        async def renewed(new: NodeCredentials) -> None:
            self.creds = new
            self._reloading.update(new)
            if on_renewed is not None:
                await on_renewed(new)

        await run_renewal(self.server, self.directory, self.creds, on_renewed=renewed,
                          server_name=self.server_name)
