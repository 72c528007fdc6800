"""The agent's view of the ConfigMaps and Secrets its pods use (agent/podsync/configdata/objects.py)
against a real control plane over gRPC: first read, live changes, deletion, release."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.adapters.api import GrpcApi
from agent.podsync.configdata.objects import ConfigObjects, NotSynced
from proto import api_pb2, codec
from proto.podrefs import Refs
from tests.support.aio import eventually, run
from tests.support.controlplane import ControlPlane
from tests.support.etcd import EtcdProcess


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as e:
        yield e


def cm(name: str, value: str) -> api_pb2.Object:
    return codec.decode({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "namespace": "default"},
                         "data": {"k": value}})


def test_objects_follow_the_api(etcd: EtcdProcess) -> None:
    async def main() -> None:
        async with ControlPlane(etcd.endpoint) as cp:
            assert cp.registry is not None
            api = GrpcApi(cp.address)
            objects = ConfigObjects(api, retry_initial=0.05, retry_max=0.2)
            wakes: list[str] = []
            try:
                await cp.registry.create(cm("app", "one"))
                objects.use("pod-1", "default", Refs(frozenset({"app", "later"}),
                                                     frozenset()), lambda: wakes.append("1"))
                with pytest.raises(NotSynced):
                    objects.lookup("configmaps", "default", "app")
                got = await eventually(lambda: objects.lookup("configmaps", "default", "app"))
                assert got.data["k"] == "one"
                def later_read() -> bool:
                    try:
                        return objects.lookup("configmaps", "default", "later") is None
                    except NotSynced:
                        return False

                await eventually(later_read)        # read: it does not exist
                n = len(wakes)
                await cp.registry.update(cm("app", "two"))
                await eventually(lambda: objects.lookup("configmaps", "default", "app")
                                 .data["k"] == "two")
                assert len(wakes) > n
                await cp.registry.create(cm("later", "now"))
                await eventually(lambda: objects.lookup("configmaps", "default", "later")
                                 is not None)
                await cp.registry.delete("configmaps", "default", "app")
                await eventually(lambda: objects.lookup("configmaps", "default", "app") is None)
                # a second pod shares the watch; releasing one keeps it for the other
                objects.use("pod-2", "default", Refs(frozenset({"later"}), frozenset()),
                            lambda: None)
                objects.release("pod-1")
                assert objects.watched() == {("configmaps", "default", "later")}
                objects.release("pod-2")
                assert objects.watched() == set()
            finally:
                await objects.close()
                await api.close()

    run(main(), timeout=60)
