"""`python -m controlplane` as a process: restarts (clean and crash) lose nothing."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import grpc
import pytest

from proto import api_pb2, api_pb2_grpc
from tests.integration.apiserver.test_api import pod
from tests.support.aio import eventually, run
from tests.support.controlplane import ControlPlane, ControlPlaneProcess
from tests.support.etcd import EtcdProcess


def names(address: str) -> list[str]:
    with grpc.insecure_channel(address) as ch:
        lst = api_pb2_grpc.ApiStub(ch).List(api_pb2.ListRequest(resource="pods"), timeout=10)
        return sorted(f"{i.pod.metadata.namespace}/{i.pod.metadata.name}" for i in lst.items)


def create(address: str, *objs: api_pb2.Object) -> None:
    with grpc.insecure_channel(address) as ch:
        api = api_pb2_grpc.ApiStub(ch)
        for o in objs:
            api.Create(api_pb2.CreateRequest(object=o), timeout=10)


def port_open(endpoint: str) -> bool:
    host, _, port = endpoint.rpartition(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


def test_restart_and_crash_lose_nothing(etcd: EtcdProcess) -> None:
    with ControlPlaneProcess(etcd.endpoint, loops=False) as cp:
        create(cp.address, pod("p1", "default"), pod("p2", "corral-system"))
        before = names(cp.address)
        assert {"default/p1", "corral-system/p2"} <= set(before)
        assert cp.stop() == 0, cp.log()
        cp.start()
        assert names(cp.address) == before
        cp.kill()
        cp.start()
        assert names(cp.address) == before


def test_embedded_etcd_survives_restart_and_stops_with_it() -> None:
    with ControlPlaneProcess("", loops=False) as cp:
        endpoint = f"127.0.0.1:{cp.etcd_ports[0]}"
        assert port_open(endpoint)
        create(cp.address, pod("e1", "default"))
        assert cp.stop() == 0, cp.log()
        assert not port_open(endpoint), "the embedded etcd outlived its control plane"
        cp.start()
        assert "default/e1" in names(cp.address)
        cp.kill()   # a crash takes the embedded etcd along (no orphan)
        assert not port_open(endpoint)
        cp.start()
        assert "default/e1" in names(cp.address)


def test_etcd_down_is_unavailable_then_recovers() -> None:
    async def main(etcd: EtcdProcess) -> None:
        async with ControlPlane(etcd.endpoint) as cp, \
                grpc.aio.insecure_channel(cp.address) as ch:
            api = api_pb2_grpc.ApiStub(ch)
            await api.Create(api_pb2.CreateRequest(object=pod("before", "default")))
            watch = api.Watch(api_pb2.WatchRequest(resource="pods", namespace="default"))
            assert cp.store is not None
            fanout = cp.store.fanout("pods")
            await eventually(lambda: fanout.watcher_count == 1, what="watch established")
            await asyncio.to_thread(etcd.stop)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await api.Get(api_pb2.GetRequest(resource="pods", namespace="default",
                                                 name="before"))
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "etcd" in (info.value.details() or "")
            await asyncio.to_thread(etcd.start)

            async def get() -> bool:
                await api.Get(api_pb2.GetRequest(resource="pods", namespace="default",
                                                 name="before"))
                return True

            await eventually(get, timeout=20, what="API answers again")
            created = await api.Create(api_pb2.CreateRequest(object=pod("after", "default")))
            ev: Any = await asyncio.wait_for(watch.read(), 20)   # the open watch survived
            assert ev.type == "ADDED" and ev.object == created
            watch.cancel()

    with EtcdProcess() as etcd:
        run(main(etcd), timeout=90)


def test_idle_watch_gets_bookmarks() -> None:
    async def main(etcd: EtcdProcess) -> None:
        async with ControlPlane(etcd.endpoint) as cp, \
                grpc.aio.insecure_channel(cp.address) as ch:
            api = api_pb2_grpc.ApiStub(ch)
            p = await api.Create(api_pb2.CreateRequest(object=pod("b", "default")))
            watch = api.Watch(api_pb2.WatchRequest(
                resource="pods", field_selector="spec.nodeName=nowhere",
                resource_version=p.pod.metadata.resource_version, allow_bookmarks=True))
            # something else changes: the filtered watcher sees only a bookmark
            node = api_pb2.Object()
            node.node.metadata.name = "bm"
            created = await api.Create(api_pb2.CreateRequest(object=node))
            ev: Any = await asyncio.wait_for(watch.read(), 20)
            assert ev.type == "BOOKMARK"
            assert int(ev.resource_version) >= int(created.node.metadata.resource_version)
            assert ev.object.pod.metadata.resource_version == ev.resource_version
            watch.cancel()

    with EtcdProcess(extra_args=["--experimental-watch-progress-notify-interval", "1s"]) as etcd:
        run(main(etcd), timeout=60)
