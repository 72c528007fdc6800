"""The security hook on the real API server over a real etcd: join, node restriction, admin."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent import security as agent_security
from controlplane.apiserver.registry import Registry
from controlplane.apiserver.server import ApiServer
from controlplane.security import serve, tokens
from controlplane.security.etcdkv import EtcdKeyValue
from controlplane.store.etcd_store import Store
from corral import config
from corral import credentials as cli_credentials
from proto import api_pb2, api_pb2_grpc, core_pb2, kinds
from tests.support.aio import run
from tests.support.etcd import EtcdProcess
from tests.support.refusal import refusal_code

TOKEN = "abcdef.0123456789abcdef"


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as e:
        yield e


def node(name: str) -> api_pb2.Object:
    n = core_pb2.Node()
    n.metadata.name = name
    return kinds.wrap(n)


async def code_of(call: Any) -> tuple[grpc.StatusCode, str]:
    try:
        await call
    except grpc.aio.AioRpcError as e:
        return refusal_code(e), e.details() or ""
    raise AssertionError("the call succeeded")


def test_secure_api_server(etcd: EtcdProcess, tmp_path: Path) -> None:
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    args = p.parse_args(["--tls", "--bootstrap-listen", "127.0.0.1:0",
                         "--bootstrap-token", TOKEN, "--bootstrap-token-ttl", "1h"])
    args.data_dir, args.listen = str(tmp_path / "cp"), "127.0.0.1:0"

    async def main() -> None:
        store = Store(etcd.endpoint)
        registry = Registry(store)
        await registry.start()
        kwargs = await serve.server_security(args, store.conn)
        again = await serve.server_security(args, store.conn)   # a restart: token kept
        assert again.keys() == kwargs.keys()
        server = ApiServer(registry, args.listen, **kwargs)
        await server.start()
        api, boot = f"127.0.0.1:{server.port}", f"127.0.0.1:{server.extra_bound[0]}"
        try:
            ca_hash = (tmp_path / "cp/pki/ca.hash").read_text().strip()
            creds = await agent_security.join(boot, TOKEN, "node-a", ca_hash)
            creds = await agent_security.renew(api, creds)      # authenticated renewal
            assert creds.node_name == "node-a"
            with pytest.raises(agent_security.JoinRefused, match="UNAUTHENTICATED"):
                await agent_security.renew(boot, creds)         # no identity on that port
            async with grpc.aio.secure_channel(
                    api, agent_security.channel_credentials(creds)) as ch:
                stub: Any = api_pb2_grpc.ApiStub(ch)
                await stub.Create(api_pb2.CreateRequest(object=node("node-a")))
                got = await stub.Get(api_pb2.GetRequest(resource="nodes", name="node-a"))
                assert got.node.metadata.name == "node-a"
                code, msg = await code_of(stub.Create(api_pb2.CreateRequest(
                    object=node("node-b"))))
                assert code == grpc.StatusCode.PERMISSION_DENIED
                assert 'node "node-a" may not create node "node-b"' in msg
                code, _ = await code_of(stub.List(api_pb2.ListRequest(resource="pods")))
                assert code == grpc.StatusCode.PERMISSION_DENIED
                await stub.List(api_pb2.ListRequest(resource="pods",
                                                    field_selector="spec.nodeName=node-a"))
                code, msg = await code_of(stub.Delete(api_pb2.DeleteRequest(
                    resource="nodes", name="node-a")))
                assert code == grpc.StatusCode.PERMISSION_DENIED and "itself" in msg
            # the admin config written at start reaches everything
            settings = config.resolve(config.load(tmp_path / "cp/admin.conf"), server=api)
            async with cli_credentials.aio_channel(api, settings.credentials) as ch:
                admin: Any = api_pb2_grpc.ApiStub(ch)
                names = [o.node.metadata.name for o in
                         (await admin.List(api_pb2.ListRequest(resource="nodes"))).items]
                assert "node-a" in names
                await admin.Delete(api_pb2.DeleteRequest(resource="nodes", name="node-a"))
            # plaintext and the bootstrap port get nothing
            async with grpc.aio.insecure_channel(api) as ch:
                code, _ = await code_of(api_pb2_grpc.ApiStub(ch).Version(
                    api_pb2.VersionRequest(), timeout=10))
                assert code == grpc.StatusCode.UNAVAILABLE
            async with grpc.aio.secure_channel(
                    boot, grpc.ssl_channel_credentials(creds.ca_pem)) as ch:
                code, _ = await code_of(api_pb2_grpc.ApiStub(ch).Version(
                    api_pb2.VersionRequest(), timeout=10))
                assert code == grpc.StatusCode.UNAUTHENTICATED
            # tokens live in etcd, hashed, outside /corral/
            kv = EtcdKeyValue(store.conn)
            raw = await kv.get(tokens.PREFIX + "abcdef")
            assert raw is not None and b"0123456789abcdef" not in raw
            listed = await tokens.BootstrapTokens(kv).list()
            assert [t.id for t in listed] == ["abcdef"]
            assert listed[0].expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
            await tokens.BootstrapTokens(kv).delete("abcdef")
            with pytest.raises(agent_security.JoinRefused, match="revoked"):
                await agent_security.join(boot, TOKEN, "node-c", ca_hash)
            assert await kv.delete(tokens.PREFIX + "abcdef")
        finally:
            await server.stop(0)
            await store.close()
    run(main(), timeout=120)


def test_insecure_only_on_loopback() -> None:
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    args = p.parse_args(["--insecure"])
    for listen in ("127.0.0.1:6443", "127.3.4.5:0", "[::1]:6443", "localhost:6443"):
        args.listen = listen
        assert run(serve.server_security(args, None)) == {}     # plaintext, open
    for listen in ("0.0.0.0:6443", "10.0.0.5:6443", "[::]:6443", ":6443"):
        args.listen = listen
        with pytest.raises(serve.InsecureRefused, match="only allowed on loopback"):
            run(serve.server_security(args, None))
    args.listen, args.bootstrap_listen = "127.0.0.1:6443", "0.0.0.0:6444"
    with pytest.raises(serve.InsecureRefused, match=r"0\.0\.0\.0:6444"):
        run(serve.server_security(args, None))
    args = p.parse_args(["--insecure", "--tls"])
    args.listen = "127.0.0.1:6443"
    with pytest.raises(serve.InsecureRefused, match="exclude"):
        run(serve.server_security(args, None))
    with pytest.raises(SystemExit):
        p.parse_args(["--bootstrap-token-ttl", "forever"])
    assert serve.duration("7d") == dt.timedelta(days=7)
