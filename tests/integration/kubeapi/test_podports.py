"""Reaching a pod's ports through the Kubernetes API in this process, on a real etcd,
with a PodDialer that reaches servers of the test in place of the agent's relay:
`kubectl port-forward` (the unmodified kubectl: SPDY/3.1 tunneled in a WebSocket; bytes
both ways, half-close, several connections at once, a failure that kubectl reports)
and pods/proxy (`kubectl get --raw`: paths, queries, bodies, named ports, chunked
answers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

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
    """Port 8080 of any pod is the test's upper-casing echo server, 8081 its HTTP server;
    others refuse."""

    def __init__(self, ports: dict[int, int]) -> None:
        self.ports, self.asked = ports, []

    async def __call__(self, namespace: str, pod: str, port: int) -> Conn:
        self.asked.append((namespace, pod, port))
        if port not in self.ports:
            raise errors.Unavailable(f"dial tcp 127.0.0.1:{port}: connect: connection refused")
        return Conn(*await asyncio.open_connection("127.0.0.1", self.ports[port]))


async def _http(request: web.Request) -> web.StreamResponse:
    if request.path == "/chunked":
        out = web.StreamResponse(headers={"X-Pod": "web"})
        out.enable_chunked_encoding()
        await out.prepare(request)
        for i in range(3):
            await out.write(f"part{i};".encode())
        await out.write_eof()
        return out
    return web.json_response({"method": request.method, "path": request.path,
                              "query": dict(request.query), "body": await request.text(),
                              "host": request.host}, status=201 if request.can_read_body
                             else 200)


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
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _http)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    http_port = runner.addresses[0][1]
    dialer = Dialer({8080: echo.sockets[0].getsockname()[1], 8081: http_port})
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
                                        "containers": [{"name": "c", "image": "demo",
                                                        "ports": [{"name": "http",
                                                                   "containerPort": 8081}]}]}}
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
        await _proxy(config)
    finally:
        for p in procs:
            if p.returncode is None:
                p.terminate()
                await p.wait()
        await server.stop()
        await store.close()
        await runner.cleanup()
        echo.close()


async def _raw(config: Path, *args: str) -> tuple[int, str, str]:
    proc = await _kubectl(config, *args)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode(), err.decode()


async def _proxy(config: Path) -> None:
    code, out, err = await _raw(config, "get", "--raw", "/api/v1")
    assert code == 0, err
    assert {"pods/portforward", "pods/proxy"} <= {r["name"] for r in json.loads(out)["resources"]}
    base = "/api/v1/namespaces/default/pods"
    code, out, err = await _raw(config, "get", "--raw", f"{base}/web:8081/proxy/a/b?x=1&y=2")
    assert code == 0, err
    assert json.loads(out) == {"method": "GET", "path": "/a/b", "query": {"x": "1", "y": "2"},
                               "body": "", "host": "web:8081"}
    # a named container port, a body, and the pod's status code
    body = json.dumps({"k": "v"})
    proc = await asyncio.create_subprocess_exec(
        KUBECTL, "--kubeconfig", str(config), "create", "--raw",
        f"{base}/web:http/proxy/post", "-f", "-", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(config.parent)})
    out_b, err_b = await asyncio.wait_for(proc.communicate(body.encode()), 30)
    assert proc.returncode == 0, err_b
    assert json.loads(out_b)["body"] == body
    code, out, err = await _raw(config, "get", "--raw", f"{base}/web%3A8081/proxy")
    assert code == 0 and json.loads(out)["path"] == "/", err
    code, out, _ = await _raw(config, "get", "--raw", f"{base}/web:8081/proxy/chunked")
    assert (code, out) == (0, "part0;part1;part2;")
    code, _, err = await _raw(config, "get", "--raw", f"{base}/web:9/proxy/")
    assert code != 0 and "connection refused" in err


def test_kubectl_port_forward_and_pod_proxy(etcd: EtcdProcess, tmp_path: Path) -> None:
    run(_scenario(etcd.endpoint, tmp_path), timeout=120)
