"""Renewal: at 2/3 of the validity, a fresh key and certificate, authenticated by the
current (still valid) one."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from agent.security.channel import channel_credentials
from agent.security.errors import RENEW_METHOD, JoinError
from agent.security.join import accept, unary
from agent.security.keys import make_key_and_csr
from agent.security.store import NodeCredentials
from proto import api_pb2

log = logging.getLogger("corral.agent.security")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def renew(server: str, creds: NodeCredentials, *, timeout: float = 30.0,
                server_name: str | None = None) -> NodeCredentials:
    """A fresh key and certificate, authenticated by the current (still valid) one."""
    node_name = creds.node_name
    if node_name is None:
        raise JoinError(f"{creds.subject} is not a node certificate")
    key_pem, csr_pem = await make_key_and_csr(node_name)
    resp = await unary(server, channel_credentials(creds), RENEW_METHOD,
                       api_pb2.RenewCertificateRequest(csr_pem=csr_pem), api_pb2.JoinResponse,
                       timeout, server_name)
    new = accept(resp, key_pem, creds.ca_pem, node_name)
    log.info("renewed the node certificate (valid until %s)", new.not_after.isoformat())
    return new


async def run_renewal(server: str, directory: Path, creds: NodeCredentials, *,
                      on_renewed: Callable[[NodeCredentials], Awaitable[None]] | None = None,
                      retry: float = 30.0, server_name: str | None = None,
                      clock: Callable[[], dt.datetime] = _utcnow) -> None:
    """Forever: at 2/3 of the validity, renew, store, call `on_renewed` (rebuild channels)."""
    async for new in renewals(server, creds, retry=retry, server_name=server_name,
                              clock=clock):
        new.save(directory)
        if on_renewed is not None:
            await on_renewed(new)


async def renewals(server: str, creds: NodeCredentials, *, retry: float = 30.0,
                   server_name: str | None = None,
                   clock: Callable[[], dt.datetime] = _utcnow,
                   ) -> AsyncIterator[NodeCredentials]:
    while True:
        wait = (creds.renew_at() - clock()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)   # a timer, not synchronisation
        try:
            creds = await renew(server, creds, server_name=server_name)
        except JoinError as e:
            if not creds.valid(clock()):
                log.error("node certificate expired before it could be renewed (%s); "
                          "the node must join again with a new token", e)
                raise
            log.warning("renewing the node certificate failed (%s); retrying in %.0fs",
                        e, retry)
            await asyncio.sleep(retry)
            continue
        yield creds
