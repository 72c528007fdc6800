"""The hollow agent's state: its fake nodes, the pods bound to them, the API stub."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from proto import api_pb2, api_pb2_grpc, core_pb2

log = logging.getLogger("agent.hollow")

LEASE_NAMESPACE = "corral-node-lease"


def timestamp_now() -> Timestamp:
    t = Timestamp()
    t.GetCurrentTime()
    return t


def _code(e: BaseException) -> grpc.StatusCode | None:
    return e.code() if isinstance(e, grpc.aio.AioRpcError) else None


@dataclass
class HollowNode:
    name: str
    index: int
    stopped: bool = False
    lease: api_pb2.Object | None = None
    ip: str = ""
    next_pod_ip: int = 2
    heartbeats: int = 0
    pods: set[str] = field(default_factory=set)


class HollowState:
    """What the node and pod halves of a HollowAgent share."""

    def __init__(self, server: str, *, nodes: int = 1, prefix: str = "hollow-",
                 heartbeat: float = 10.0, status_every: int = 10, cpu: str = "4",
                 memory: str = "8Gi", max_pods: str = "110",
                 labels: dict[str, str] | None = None, concurrency: int = 32,
                 lease_duration: int = 40,
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        self.server = server
        self.credentials = credentials   # None: plaintext
        self.prefix = prefix
        self.heartbeat = heartbeat
        self.status_every = max(1, status_every)
        self.capacity = {"cpu": cpu, "memory": memory, "pods": max_pods}
        self.labels = dict(labels or {})
        self.concurrency = concurrency
        self.lease_duration = lease_duration
        self.nodes: dict[str, HollowNode] = {
            f"{prefix}{i}": HollowNode(f"{prefix}{i}", i,
                                       ip=f"10.{250 + i // 65536 % 5}.{i // 256 % 256}.{i % 256}")
            for i in range(nodes)}
        self.pods: dict[str, core_pb2.Pod] = {}     # namespace/name -> pod on one of our nodes
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._channel: grpc.aio.Channel | None = None
        self._stub: api_pb2_grpc.ApiAsyncStub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sem = asyncio.Semaphore(concurrency)
        self.watch_synced = asyncio.Event()
        self.reported = 0
        self.confirmed_deletions = 0

    @property
    def stub(self) -> api_pb2_grpc.ApiAsyncStub:
        assert self._stub is not None, "start() first"
        return self._stub
