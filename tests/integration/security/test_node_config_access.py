"""Node restriction for ConfigMaps and Secrets on a real TLS control plane: a node reads
what the pods bound to it reference, and nothing else (like Kubernetes' Node authorizer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from agent import security as agent_security
from corral import credentials as cli_credentials
from proto import api_pb2, api_pb2_grpc, codec
from tests.support.aio import run
from tests.support.controlplane import ControlPlaneProcess
from tests.support.etcd import EtcdProcess

NS = "shop"


@pytest.fixture(scope="module")
def cp() -> Iterator[ControlPlaneProcess]:
    with EtcdProcess() as etcd, ControlPlaneProcess(etcd.endpoint, loops=False,
                                                    tls=True) as c:
        yield c


def obj(doc: dict[str, Any]) -> api_pb2.Object:
    return codec.decode(doc)


def pod(name: str, node: str, *, secret: str = "", configmap: str = "",
        pull: str = "") -> api_pb2.Object:
    c: dict[str, Any] = {"name": "c", "image": "busybox"}
    if secret:
        c["env"] = [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": secret,
                                                                  "key": "pw"}}}]
    spec: dict[str, Any] = {"nodeName": node, "containers": [c]}
    if configmap:
        spec["volumes"] = [{"name": "cfg", "projected": {"sources": [
            {"configMap": {"name": configmap}}]}}]
    if pull:
        spec["imagePullSecrets"] = [{"name": pull}]
    return obj({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": NS}, "spec": spec})


async def denied(call: Any) -> str:
    try:
        await call
    except grpc.aio.AioRpcError as e:
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED, e.details()
        return e.details() or ""
    raise AssertionError("the call succeeded")


def test_a_node_reads_only_what_its_pods_use(cp: ControlPlaneProcess) -> None:
    async def main() -> None:
        creds = cp.credentials
        async with cli_credentials.aio_channel(cp.address, creds) as ch:
            admin: Any = api_pb2_grpc.ApiStub(ch)
            await admin.Create(api_pb2.CreateRequest(object=obj(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})))
            for name in ("a-secret", "b-secret", "a-pull"):
                await admin.Create(api_pb2.CreateRequest(object=obj(
                    {"apiVersion": "v1", "kind": "Secret",
                     "metadata": {"name": name, "namespace": NS},
                     "stringData": {"pw": "p-" + name}})))
            await admin.Create(api_pb2.CreateRequest(object=obj(
                {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "a-config", "namespace": NS}, "data": {"k": "v"}})))
            for p in (pod("a1", "node-a", secret="a-secret", configmap="a-config",
                          pull="a-pull"),
                      pod("a2", "node-a", configmap="not-yet"),
                      pod("b1", "node-b", secret="b-secret")):
                await admin.Create(api_pb2.CreateRequest(object=p))
        node_a = await agent_security.join(cp.bootstrap_address, cp.token, "node-a",
                                           cp.ca_hash)
        async with grpc.aio.secure_channel(
                cp.address, agent_security.channel_credentials(node_a)) as ch:
            a: Any = api_pb2_grpc.ApiStub(ch)

            def get(resource: str, name: str) -> Any:
                return a.Get(api_pb2.GetRequest(resource=resource, namespace=NS, name=name))

            got = await get("secrets", "a-secret")
            assert got.secret.data["pw"] == b"p-a-secret"
            assert (await get("secrets", "a-pull")).secret.data["pw"] == b"p-a-pull"
            assert (await get("configmaps", "a-config")).config_map.data["k"] == "v"
            msg = await denied(get("secrets", "b-secret"))
            assert msg == ('node "node-a" may not get secret "shop/b-secret": no pod bound to '
                           'node "node-a" references it')
            assert "p-b-secret" not in msg
            # referenced but not created yet: NotFound; unreferenced: denied, exists or not
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await get("configmaps", "not-yet")
            assert e.value.code() == grpc.StatusCode.NOT_FOUND
            await denied(get("configmaps", "never-referenced"))
            # list / watch: one object by name only
            one = await a.List(api_pb2.ListRequest(resource="secrets", namespace=NS,
                                                   field_selector="metadata.name=a-secret"))
            assert [s.secret.metadata.name for s in one.items] == ["a-secret"]
            await denied(a.List(api_pb2.ListRequest(resource="secrets", namespace=NS)))
            await denied(a.List(api_pb2.ListRequest(resource="secrets", namespace=NS,
                                                    field_selector="metadata.name=b-secret")))
            stream = a.Watch(api_pb2.WatchRequest(resource="secrets", namespace=NS,
                                                  field_selector="metadata.name=b-secret"))
            await denied(stream.read())
            # never a write
            await denied(a.Create(api_pb2.CreateRequest(object=obj(
                {"apiVersion": "v1", "kind": "Secret",
                 "metadata": {"name": "mine", "namespace": NS}}))))
            await denied(a.Delete(api_pb2.DeleteRequest(resource="secrets", namespace=NS,
                                                        name="a-secret")))
            await denied(a.ListEncryptionKeys(api_pb2.EncryptionKeysRequest()))

    run(main(), timeout=120)
