"""etcd clients as corral uses them: plaintext or mutual TLS, and "require a leader".

    tls = EtcdTLS.from_files(ca="pki/ca.crt", cert="pki/etcd/client.crt",
                             key="pki/etcd/client.key")
    client = EtcdClient("https://10.0.0.5:2379", tls=tls, timeout=5)   # an aetcd.Client
    await client.connect()

Endpoints are `host:port` (plaintext, or TLS when `tls` is given), `http://host:port`
or `https://host:port` (TLS: needs `tls`). The TLS material is the cluster CA (which
signed every etcd member's certificate) and a client certificate etcd accepts
(controlplane/security/etcdcerts.py).

Every call on the channel carries etcd's `hasleader` metadata (clientv3's
`WithRequireLeader`): a member cut off from the majority answers UNAVAILABLE
"etcdserver: no leader" at once instead of after its request timeout, and cancels
open watches a few election timeouts after it lost its leader. A control plane on
the minority side of a partition therefore refuses reads and writes (its clients go
to another member) rather than serving what it last saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aetcd
import grpc
from aetcd import rpc, watcher

from controlplane.store.leaderchannel import LeaderChannel

REQUIRE_LEADER = (("hasleader", "true"),)
NO_LEADER = "etcdserver: no leader"


class EtcdEndpointError(ValueError):
    """An etcd endpoint that cannot be used as given (malformed, or https without TLS)."""


@dataclass(frozen=True)
class EtcdTLS:
    """PEM bytes: the CA that signed the members' certificates, our client cert and key."""

    ca: bytes
    cert: bytes
    key: bytes

    @classmethod
    def from_files(cls, *, ca: str | Path, cert: str | Path, key: str | Path) -> EtcdTLS:
        return cls(Path(ca).read_bytes(), Path(cert).read_bytes(), Path(key).read_bytes())

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(root_certificates=self.ca, private_key=self.key,
                                            certificate_chain=self.cert)

    def __repr__(self) -> str:          # never print the key
        return "EtcdTLS(...)"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    secure: bool

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.target}"


def parse_endpoint(endpoint: str, tls: EtcdTLS | None = None) -> Endpoint:
    """`host:port`, `http://host:port` or `https://host:port` (EtcdEndpointError)."""
    text = endpoint.strip()
    secure = tls is not None
    if text.startswith("https://"):
        if tls is None:
            raise EtcdEndpointError(
                f"etcd endpoint {endpoint!r} is https but no client certificate was given "
                "(--etcd-cafile, --etcd-certfile, --etcd-keyfile)")
        text, secure = text[len("https://"):], True
    elif text.startswith("http://"):
        text, secure = text[len("http://"):], False
    host, _, port = text.rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        raise EtcdEndpointError(f"etcd endpoint {endpoint!r} is not HOST:PORT")
    return Endpoint(host.strip("[]"), int(port), secure)


def split_endpoints(endpoints: str | list[str] | tuple[str, ...]) -> list[str]:
    if isinstance(endpoints, str):
        return [e.strip() for e in endpoints.split(",") if e.strip()]
    return [e.strip() for e in endpoints if e.strip()]


def open_channel(endpoint: Endpoint, tls: EtcdTLS | None,
                 options: Mapping[str, Any] | None = None) -> grpc.aio.Channel:
    """A channel to one member, every call requiring a leader (leaderchannel.py)."""
    opts = list((options or {}).items())
    if endpoint.secure:
        assert tls is not None
        return LeaderChannel(grpc.aio.secure_channel(endpoint.target, tls.credentials(),
                                                     options=opts), REQUIRE_LEADER)
    return LeaderChannel(grpc.aio.insecure_channel(endpoint.target, options=opts),
                         REQUIRE_LEADER)


class EtcdClient(aetcd.Client):
    """aetcd's client on a channel of ours (TLS, require-leader); the rest is aetcd's."""

    def __init__(self, endpoint: str, *, tls: EtcdTLS | None = None,
                 timeout: float | None = None,
                 options: Mapping[str, Any] | None = None) -> None:
        self.endpoint = parse_endpoint(endpoint, tls)
        super().__init__(host=self.endpoint.host, port=self.endpoint.port,
                         timeout=timeout,  # aetcd's docs say int; a float works
                         options=dict(options or {}))
        self._tls = tls
        self._is_connecting: bool = False

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        if self._is_connecting:     # another task is connecting: wait for it (as aetcd)
            await asyncio.wait_for(self._connected.wait(), self._connect_wait_timeout)
            return
        try:
            self._is_connecting = True
            self.channel = open_channel(self.endpoint, self._tls, self._options)
            self.kvstub = rpc.KVStub(self.channel)
            self.clusterstub = rpc.ClusterStub(self.channel)
            self.leasestub = rpc.LeaseStub(self.channel)
            self.maintenancestub = rpc.MaintenanceStub(self.channel)
            self._watcher = watcher.Watcher(rpc.WatchStub(self.channel), timeout=self._timeout,
                                            metadata=self.metadata)
            self._connected.set()
        finally:
            self._is_connecting = False


def is_no_leader(e: BaseException) -> bool:
    """Whether an etcd error says the member has no leader (it is in a minority)."""
    if isinstance(e, grpc.aio.AioRpcError):
        return NO_LEADER in (e.details() or "")
    return NO_LEADER in str(e)
