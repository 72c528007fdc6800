"""Who may build: the real API server (TLS, real etcd) refuses Api.Build to every identity
that is not an admin (PermissionDenied, before any node is asked), and lets an admin
through to the build itself."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.apiserver.registry import Registry
from controlplane.apiserver.server import ApiServer
from controlplane.security import serve
from controlplane.security.pki import ClusterCA
from controlplane.store.etcd_store import Store
from corral import config
from corral import credentials as cli_credentials
from proto import api_pb2_grpc, build_pb2
from tests.support.aio import run
from tests.support.etcd import EtcdProcess


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as e:
        yield e


async def _inputs() -> AsyncIterator[build_pb2.ImageBuildInput]:
    yield build_pb2.ImageBuildInput(start=build_pb2.ImageBuildStart(
        node="node-a", spec=build_pb2.BuildSpec(tags=["x:1"], dockerfile=b"FROM scratch\n")))
    yield build_pb2.ImageBuildInput(context=b"\0" * 1024)


async def _build_code(address: str, creds: cli_credentials.Credentials) -> tuple[Any, str]:
    async with cli_credentials.aio_channel(address, creds) as ch:
        stub: Any = api_pb2_grpc.ApiStub(ch)
        try:
            async for _ in stub.Build(_inputs(), timeout=30):
                pass
        except grpc.aio.AioRpcError as e:
            return e.code(), e.details() or ""
    raise AssertionError("the build call succeeded")


def test_only_admins_build(etcd: EtcdProcess, tmp_path: Path) -> None:
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    args = p.parse_args(["--tls", "--bootstrap-listen", "127.0.0.1:0",
                         "--bootstrap-token", "abcdef.0123456789abcdef"])
    args.data_dir, args.listen = str(tmp_path / "cp"), "127.0.0.1:0"

    async def main() -> None:
        store = Store(etcd.endpoint)
        registry = Registry(store)
        await registry.start()
        server = ApiServer(registry, args.listen, **await serve.server_security(args, store.conn))
        await server.start()
        address = f"127.0.0.1:{server.port}"
        try:
            ca = ClusterCA.load(tmp_path / "cp" / "pki")

            def creds(kp: Any) -> cli_credentials.Credentials:
                return cli_credentials.Credentials(ca.cert_pem, kp.cert_pem, kp.key_pem)
            for who, kp in (("node", ca.issue_node("node-a")),
                            ("user", ca.issue_client("alice", ["developers"]))):
                code, msg = await _build_code(address, creds(kp))
                assert code == grpc.StatusCode.PERMISSION_DENIED, (who, code, msg)
                assert "manage the images of" in msg and "node-a" in msg, msg
            admin = config.resolve(config.load(tmp_path / "cp" / "admin.conf"), server=address)
            assert admin.credentials is not None
            code, msg = await _build_code(address, admin.credentials)
            assert code == grpc.StatusCode.NOT_FOUND and "no nodes" in msg      # let through
        finally:
            await server.stop(0)
            await store.close()
    run(main(), timeout=120)
