"""What a pod requests and what a node offers, in integer units."""

from __future__ import annotations

import functools

from proto import core_pb2
from proto.quantity import cpu_millis, to_bytes

from .framework import PodInfo, Resources

# Kubernetes' scoring defaults for a container without requests
# (pkg/scheduler/util: DefaultMilliCPURequest, DefaultMemoryRequest).
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024


def _container(c: core_pb2.Container) -> tuple[int, int, int, int]:
    req = c.resources.requests
    return _requests(req.get("cpu"), req.get("memory"))


@functools.lru_cache(maxsize=1024)
def _requests(cpu_q: str | None, mem_q: str | None) -> tuple[int, int, int, int]:
    """Parsed once per distinct pair: the pods of one template all ask the same (parsing
    a quantity exactly, with fractions, is a good part of a scheduling cycle)."""
    cpu = cpu_millis(cpu_q) if cpu_q is not None else 0
    mem = to_bytes(mem_q) if mem_q is not None else 0
    return cpu, mem, cpu or DEFAULT_MILLI_CPU, mem or DEFAULT_MEMORY


def pod_resources(pod: core_pb2.Pod) -> tuple[Resources, Resources]:
    """(requests, nonzero requests): containers summed, init containers maxed."""
    cpu = mem = nz_cpu = nz_mem = 0
    for c in pod.spec.containers:
        a, b, x, y = _container(c)
        cpu += a
        mem += b
        nz_cpu += x
        nz_mem += y
    for c in pod.spec.init_containers:
        a, b, x, y = _container(c)
        cpu = max(cpu, a)
        mem = max(mem, b)
        nz_cpu = max(nz_cpu, x)
        nz_mem = max(nz_mem, y)
    return Resources(cpu, mem, 1), Resources(nz_cpu, nz_mem, 1)


def controller_uid(pod: core_pb2.Pod) -> str:
    for ref in pod.metadata.owner_references:
        if ref.HasField("controller") and ref.controller:
            return ref.uid
    return ""


def pod_info(pod: core_pb2.Pod) -> PodInfo:
    req, nz = pod_resources(pod)
    return PodInfo(pod=pod, key=f"{pod.metadata.namespace}/{pod.metadata.name}",
                   uid=pod.metadata.uid, requests=req, nonzero=nz,
                   owner_uid=controller_uid(pod))


def node_allocatable(node: core_pb2.Node) -> Resources:
    alloc = node.status.allocatable or node.status.capacity
    cpu = cpu_millis(alloc["cpu"]) if "cpu" in alloc else 0
    mem = to_bytes(alloc["memory"]) if "memory" in alloc else 0
    pods = int(to_bytes(alloc["pods"])) if "pods" in alloc else 110
    return Resources(cpu, mem, pods)
