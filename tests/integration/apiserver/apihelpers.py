"""What the Api service tests share: objects to create and a control plane to talk to."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest

from proto import api_pb2, api_pb2_grpc
from tests.support.aio import run
from tests.support.controlplane import ControlPlane
from tests.support.etcd import EtcdProcess

Api = Any  # api_pb2_grpc.ApiStub on an aio channel


def pod(name: str, ns: str = "default", **labels: str) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.pod.metadata.name = name
    obj.pod.metadata.namespace = ns
    obj.pod.metadata.labels.update(labels)
    obj.pod.spec.containers.add(name="c", image="nginx")
    return obj


def namespace(name: str) -> api_pb2.Object:
    obj = api_pb2.Object()
    obj.namespace.metadata.name = name
    return obj


def uniq() -> str:
    return "t" + uuid.uuid4().hex[:8]


def with_api(etcd: EtcdProcess, body: Callable[[Api, ControlPlane], Awaitable[None]]) -> None:
    async def main() -> None:
        async with ControlPlane(etcd.endpoint) as cp, \
                grpc.aio.insecure_channel(cp.address) as ch:
            await body(api_pb2_grpc.ApiStub(ch), cp)

    run(main())


async def code_of(call: Awaitable[Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code()


async def new_ns(api: Api) -> str:
    name = uniq()
    await api.Create(api_pb2.CreateRequest(object=namespace(name)))
    return name
