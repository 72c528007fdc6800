"""`kubectl port-forward` (the unmodified kubectl: SPDY/3.1 tunneled in a WebSocket)
against the Kubernetes API in this process, on a real etcd, with a PodDialer that
reaches a TCP server of the test in place of the agent's relay: bytes both ways,
half-close, several connections at once, and a failure that kubectl reports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane import errors
from controlplane.apiserver.access import Access
from controlplane.apiserver.agents import Agents
from controlplane.apiserver.registry import Registry
from controlplane.httpapi import handlers
from controlplane.httpapi.call import House
from controlplane.httpapi.server import KubeApiServer
from controlplane.store.etcd_store import Store
from proto import codec
from tests.support.aio import run
from tests.support.etcd import EtcdProcess

KUBECTL = str(Path(sys.executable).parent / "kubectl")


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as e:
        yield e


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self) -> bytes:
        return await self.reader.read(65536)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close_write(self) -> None:
        self.writer.write_eof()

    async def close(self) -> None:
        self.writer.close()


class Dialer:
    """Port 8080 of any pod is the test's upper-casing echo server; others refuse."""

    def __init__(self, port: int) -> None:
        self.port, self.asked = port, []

    async def __call__(self, namespace: str, pod: str, port: int) -> Conn:
        self.asked.append((namespace, pod, port))
        if port != 8080:
            raise errors.Unavailable(f"dial tcp 127.0.0.1:{port}: connect: connection refused")
        return Conn(*await asyncio.open_connection("127.0.0.1", self.port))


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    data = await reader.read()          # all of it: the client half-closes
    writer.write(data.upper())
    await writer.drain()
    writer.close()


async def _kubectl(config: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        KUBECTL, "--kubeconfig", str(config), *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "HOME": str(config.parent)})


async def _local_port(proc: asyncio.subprocess.Process) -> int:
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("Forwarding from 127.0.0.1:"), line
    return int(line.split(":")[1].split()[0])


async def _through(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    return data


async def _scenario(endpoint: str, tmp: Path) -> None:
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    dialer = Dialer(echo.sockets[0].getsockname()[1])
    store = Store(endpoint)
    registry = Registry(store)
    await registry.start()
    server = KubeApiServer(House(registry, Access(registry), Agents(registry), dialer),
                           "127.0.0.1:0", extra=handlers.EXTRA)
    port = await server.start()
    procs: list[asyncio.subprocess.Process] = []
    try:
        pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": "web", "namespace": "default"},
                               "spec": {"nodeName": "node-1",
                                        "containers": [{"name": "c", "image": "demo"}]}}
        created = await registry.create(codec.decode(pod))
        created.pod.status.phase = "Running"
        await registry.update_status(created)
        config = tmp / "config"
        config.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "t",
            "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "t", "user": {}}],
            "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}]}))

        procs.append(await _kubectl(config, "port-forward", "pod/web", ":8080"))
        local = await _local_port(procs[0])
        assert await _through(local, b"hello") == b"HELLO"
        big = os.urandom(300_000).hex().encode()          # many frames each way
        results = await asyncio.gather(*(_through(local, big + bytes([65 + i]))
                                         for i in range(3)))
        assert results == [(big + bytes([65 + i])).upper() for i in range(3)]
        assert dialer.asked[0] == ("default", "web", 8080)

        # a port nothing listens on: kubectl shows why, and the session ends
        procs.append(await _kubectl(config, "port-forward", "pod/web", ":9"))
        local = await _local_port(procs[1])
        with contextlib.suppress(ConnectionError):
            await _through(local, b"x")
        _, err = await asyncio.wait_for(procs[1].communicate(), 30)
        assert "error forwarding port 9 to pod web: dial tcp 127.0.0.1:9: connect: " \
               "connection refused" in err.decode()
    finally:
        for p in procs:
            if p.returncode is None:
                p.terminate()
                await p.wait()
        await server.stop()
        await store.close()
        echo.close()


def test_kubectl_port_forward(etcd: EtcdProcess, tmp_path: Path) -> None:
    run(_scenario(etcd.endpoint, tmp_path), timeout=120)
