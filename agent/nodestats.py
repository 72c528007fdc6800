"""The Agent service's Stats: the node's CPU and memory from /proc, the pods'
containers from the runtime's cgroups, CPU as a rate between two samples."""

from __future__ import annotations

import logging
import time

from agent.podsync.manager import PodManager
from agent.ports import RUNNING, ContainerRuntimePort
from proto import agent_pb2

log = logging.getLogger("corral.agent.server")


def _proc_cpu_ns() -> int:
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()[1:]
    except OSError:
        return 0
    vals = [int(x) for x in parts]
    busy = sum(vals) - vals[3] - (vals[4] if len(vals) > 4 else 0)
    return busy * 10_000_000     # USER_HZ = 100


def _mem_working_set() -> tuple[int, int]:
    info: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                info[k] = int(v.split()[0]) * 1024
    except OSError:
        return 0, 0
    total = info.get("MemTotal", 0)
    return total - info.get("MemAvailable", 0), total


class NodeStats:
    def __init__(self, node_name: str, manager: PodManager, runtime: ContainerRuntimePort,
                 cpu_capacity_millis: int = 0) -> None:
        self.node_name = node_name
        self.manager = manager
        self.runtime = runtime
        self.cpu_capacity_millis = cpu_capacity_millis
        self._cpu_samples: dict[str, tuple[int, float]] = {}

    def _rate(self, key: str, total_ns: int) -> int:
        now = time.monotonic()
        prev = self._cpu_samples.get(key)
        self._cpu_samples[key] = (total_ns, now)
        if prev is None or now <= prev[1]:
            return 0
        return max(int((total_ns - prev[0]) / (now - prev[1])), 0)

    async def stats(self, request: agent_pb2.StatsRequest) -> agent_pb2.StatsResponse:
        resp = agent_pb2.StatsResponse()
        resp.timestamp.GetCurrentTime()
        ws, total = _mem_working_set()
        node_ns = _proc_cpu_ns()
        resp.node.CopyFrom(agent_pb2.NodeStats(
            name=self.node_name, cpu_usage_nano_cores=self._rate("@node", node_ns),
            memory_working_set_bytes=ws, memory_capacity_bytes=total,
            cpu_capacity_cores=max(self.cpu_capacity_millis // 1000, 1)))
        running = [c for c in await self.runtime.list_containers() if c.state == RUNNING]
        for w in list(self.manager.workers.values()):
            meta = w.pod.metadata
            if w.removed or (request.namespace and meta.namespace != request.namespace) or (
                    request.pod and meta.name != request.pod):
                continue
            ps = resp.pods.add(namespace=meta.namespace, name=meta.name)
            for c in running:
                if c.pod_uid != w.uid:
                    continue
                try:
                    u = await self.runtime.usage(c.id)
                except Exception as e:
                    log.debug("stats of %s: %s", c.id, e)
                    continue
                ps.containers.add(
                    name=c.name,
                    cpu_usage_core_nano_seconds=u.cpu_usage_core_nano_seconds,
                    cpu_usage_nano_cores=self._rate(c.id, u.cpu_usage_core_nano_seconds),
                    memory_working_set_bytes=u.memory_working_set_bytes,
                    memory_usage_bytes=u.memory_usage_bytes, pids=u.pids)
        return resp
