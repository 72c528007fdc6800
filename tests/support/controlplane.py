"""A control plane for tests, on a free loopback port, against a test etcd.

As a separate process (`python -m controlplane`), the way it runs for real:
ControlPlaneProcess, which lives in localcluster/cpprocess.py (the benchmarks use
it too) and is imported here for the tests:

    from tests.support.etcd import EtcdProcess
    from tests.support.controlplane import ControlPlaneProcess

    with EtcdProcess() as etcd, ControlPlaneProcess(etcd.endpoint) as cp:
        cp.address, cp.stop(), cp.start(), cp.kill(), cp.log(), ...

In-process (same event loop as the test; gives the Registry too):

    async with ControlPlane(etcd.endpoint) as cp:
        cp.address, cp.registry, cp.store
        await cp.restart()  # a new Store/Registry/server on the same port
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from controlplane.apiserver.registry import Registry
from controlplane.apiserver.server import ApiServer
from controlplane.etcd import free_port
from controlplane.store.encryption import KeyRing, new_key
from controlplane.store.etcd_store import Store
from localcluster.cpprocess import ControlPlaneProcess, wait_serving

REPO = Path(__file__).resolve().parents[2]

__all__ = ["REPO", "ControlPlane", "ControlPlaneProcess", "wait_serving"]


class ControlPlane:
    """The API server in the test's own event loop (no loops, no subprocess)."""

    def __init__(self, etcd_endpoint: str, *, port: int = 0) -> None:
        self.etcd_endpoint = etcd_endpoint
        self.port = port or free_port()
        self.store: Store | None = None
        self.registry: Registry | None = None
        self.server: ApiServer | None = None
        self.keyring = KeyRing([new_key()])     # Secrets' keys, in memory (kept on restart)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.store = Store(self.etcd_endpoint, transformers={"secrets": self.keyring})
        self.registry = Registry(self.store)
        await self.registry.start()
        self.server = ApiServer(self.registry, self.address, encryption_keys=self.keyring)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=0.5)
            self.server = None
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def __aenter__(self) -> ControlPlane:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
