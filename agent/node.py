"""The node: registration, status, the heartbeat Lease, routes to other nodes.

- `register` creates the Node or updates it (keeping what the control plane
  owns: spec.podCIDR, taints, unschedulable), then writes its status.
- `run_heartbeat` renews `corral-node-lease/<node>` every heartbeat interval.
- `run_status` refreshes the Node's status (Ready, capacity) periodically.
- `routes` (agent/noderoutes.py) watches Nodes: once this node has a podCIDR it
  calls network.ensure_node, and it keeps routes to every other node's podCIDR.
- What the machine offers (capacity, cgroup version, OS) is agent/nodefacts.py.

Every loop survives the control plane being away: it logs, backs off and
tries again; nothing here stops pods.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import socket
import time
from collections.abc import Callable

from agent import localpath
from agent.backoff import RetryBackoff
from agent.config import AgentConfig
from agent.nodefacts import NodeFacts, arch, gather_facts, os_image, read
from agent.noderoutes import NodeRoutes
from agent.ports import (
    ApiAlreadyExists,
    ApiConflict,
    ApiNotFound,
    ApiPort,
    ApiUnavailable,
    NetworkPort,
)
from agent.status import ts
from proto import core_pb2, kinds
from proto.quantity import cpu_millis, format_bytes, format_cpu, to_bytes

log = logging.getLogger("corral.agent.node")

VERSION = "0.1.0"
RUNTIME_VERSION = f"corral://{VERSION}"
LEASE_NAMESPACE = "corral-node-lease"
CGROUP_LABEL = "corral.dev/cgroup-version"


class NodeAgent:
    def __init__(self, cfg: AgentConfig, api: ApiPort, network: NetworkPort,
                 facts: NodeFacts | None = None, clock: Callable[[], float] = time.time,
                 port: int | None = None) -> None:
        self.cfg = cfg
        self.api = api
        self.network = network
        self.facts = facts or gather_facts()
        self.clock = clock
        self.port = cfg.listen_port if port is None else port
        self.registered = asyncio.Event()
        self.last_heartbeat: float | None = None   # time.monotonic() of the last lease renewal
        self.ready_since = clock()
        self.routes = NodeRoutes(cfg, api, network, self._own_node)
        self._status_now = asyncio.Event()

    # -- building ---------------------------------------------------------------------------

    def capacity(self) -> tuple[dict[str, str], dict[str, str]]:
        cap = {"cpu": format_cpu(self.facts.cpu_millis),
               "memory": format_bytes(self.facts.memory_bytes),
               "pods": str(self.cfg.pods_limit)}
        cpu_alloc = max(self.facts.cpu_millis - cpu_millis(self.cfg.reserve_cpu), 0)
        mem_alloc = max(self.facts.memory_bytes - to_bytes(self.cfg.reserve_memory), 0)
        alloc = {"cpu": format_cpu(cpu_alloc), "memory": format_bytes(mem_alloc),
                 "pods": str(self.cfg.pods_limit)}
        return cap, alloc

    def status(self, old: core_pb2.NodeStatus | None = None) -> core_pb2.NodeStatus:
        s = core_pb2.NodeStatus()
        cap, alloc = self.capacity()
        s.capacity.update(cap)
        s.allocatable.update(alloc)
        s.addresses.add(type="InternalIP", address=self.cfg.node_ip)
        # the node name, not gethostname(): local-cluster nodes share one machine
        s.addresses.add(type="Hostname", address=self.cfg.node_name or socket.gethostname())
        s.daemon_endpoints.kubelet_endpoint.port = self.port
        ni = s.node_info
        ni.kernel_version = platform.release()
        ni.os_image = os_image()
        ni.operating_system = "linux"
        ni.architecture = arch()
        ni.container_runtime_version = RUNTIME_VERSION
        ni.kubelet_version = f"v{VERSION}"
        ni.machine_id = read("/etc/machine-id") or ""
        ni.boot_id = read("/proc/sys/kernel/random/boot_id") or ""
        now = self.clock()
        ready = core_pb2.NodeCondition(
            type="Ready", status="True", reason="KubeletReady",
            message="corral agent is posting ready status",
            last_heartbeat_time=ts(float(int(now))))
        ready.last_transition_time.CopyFrom(ts(float(int(self.ready_since))))
        if old is not None:
            for c in old.conditions:
                if c.type == "Ready" and c.status == "True":
                    ready.last_transition_time.CopyFrom(c.last_transition_time)
        s.conditions.append(ready)
        if old is not None:
            s.images.extend(old.images)
        return s

    def node(self, old: core_pb2.Node | None = None) -> core_pb2.Node:
        n = core_pb2.Node(api_version="v1", kind="Node")
        if old is not None:
            n.CopyFrom(old)
        n.metadata.name = self.cfg.node_name
        labels = n.metadata.labels
        labels["kubernetes.io/hostname"] = self.cfg.node_name
        labels["kubernetes.io/os"] = "linux"
        labels["kubernetes.io/arch"] = arch()
        labels[CGROUP_LABEL] = self.facts.cgroup
        n.metadata.annotations[localpath.ROOT_ANNOTATION] = localpath.root_of(self.cfg)
        n.status.CopyFrom(self.status(old.status if old is not None else None))
        return n

    # -- registration ----------------------------------------------------------------------

    async def register_once(self) -> core_pb2.Node:
        name = self.cfg.node_name
        try:
            old = (await self.api.get("nodes", "", name)).node
        except ApiNotFound:
            try:
                created = (await self.api.create(kinds.wrap(self.node()))).node
            except ApiAlreadyExists:
                return await self.register_once()
            # the create may drop status: write it explicitly
            n = self.node(created)
            out = (await self.api.update_status(kinds.wrap(n))).node
            log.info("registered node %s", name)
            return out
        n = self.node(old)
        if dict(n.metadata.labels) != dict(old.metadata.labels) or \
                dict(n.metadata.annotations) != dict(old.metadata.annotations):
            updated = (await self.api.update(kinds.wrap(n))).node
            n = self.node(updated)
        out = (await self.api.update_status(kinds.wrap(n))).node
        log.info("updated node %s", name)
        return out

    async def register(self) -> core_pb2.Node:
        retry = RetryBackoff(self.cfg.profile.api_retry_initial, self.cfg.profile.api_retry_max)
        while True:
            try:
                node = await self.register_once()
                self.registered.set()
                await self.routes.on_node(node)
                return node
            except ApiConflict:
                continue
            except ApiUnavailable as e:
                delay = retry.next()
                log.info("cannot register node (%s); retrying in %.1fs", e, delay)
                await asyncio.sleep(delay)

    async def update_status_once(self) -> None:
        for _ in range(5):
            try:
                old = (await self.api.get("nodes", "", self.cfg.node_name)).node
            except ApiNotFound:
                await self.register_once()
                return
            try:
                await self.api.update_status(kinds.wrap(self.node(old)))
                return
            except ApiConflict:
                continue

    def status_now(self) -> None:
        """Post the node status at once (heartbeats are back, or the control
        plane marked this node not Ready): a returning node is usable at once."""
        self._status_now.set()

    async def run_status(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._status_now.wait(),
                                       self.cfg.profile.node_status_interval)
            except TimeoutError:
                pass
            self._status_now.clear()
            try:
                await self.update_status_once()
            except (ApiUnavailable, ApiConflict) as e:
                log.info("node status update failed: %s", e)
            except Exception:
                log.exception("node status update failed")

    # -- heartbeat ---------------------------------------------------------------------------

    async def renew_lease_once(self) -> None:
        name = self.cfg.node_name
        now = ts(self.clock())
        try:
            obj = await self.api.get("leases", LEASE_NAMESPACE, name)
        except ApiNotFound:
            lease = core_pb2.Lease(api_version="coordination.k8s.io/v1", kind="Lease")
            lease.metadata.name = name
            lease.metadata.namespace = LEASE_NAMESPACE
            lease.spec.holder_identity = name
            lease.spec.lease_duration_seconds = self.cfg.profile.lease_duration
            lease.spec.acquire_time.CopyFrom(now)
            lease.spec.renew_time.CopyFrom(now)
            await self.api.create(kinds.wrap(lease))
            return
        lease = obj.lease
        if lease.spec.holder_identity != name:
            lease.spec.holder_identity = name
            lease.spec.acquire_time.CopyFrom(now)
            lease.spec.lease_transitions += 1
        lease.spec.lease_duration_seconds = self.cfg.profile.lease_duration
        lease.spec.renew_time.CopyFrom(now)
        await self.api.update(kinds.wrap(lease))

    @property
    def renew_timeout(self) -> float:
        """How long one renewal may take before it is given up and tried again: like the
        kubelet's heartbeat client, shorter than other calls, so that a call stuck on a
        control-plane member that lost its etcd leader is retried on another member; not
        so short that a slow but working control plane (just restarted, a loaded
        machine) has every renewal abandoned."""
        return min(10.0, max(5.0, 4 * self.cfg.profile.heartbeat_interval))

    async def run_heartbeat(self) -> None:
        retry = RetryBackoff(self.cfg.profile.api_retry_initial,
                             self.cfg.profile.heartbeat_interval)
        failed = False
        while True:
            try:
                await asyncio.wait_for(self.renew_lease_once(), self.renew_timeout)
                self.last_heartbeat = time.monotonic()
                if failed:
                    self.status_now()     # back after an outage: say Ready at once
                failed = False
                retry.reset()
                delay = self.cfg.profile.heartbeat_interval
            except (ApiUnavailable, ApiConflict, ApiAlreadyExists, TimeoutError) as e:
                failed = True
                delay = retry.next()
                log.info("heartbeat failed (%s); retrying in %.1fs",
                         e or f"no answer within {self.renew_timeout:.0f} s", delay)
            except Exception:
                failed = True
                delay = retry.next()
                log.exception("heartbeat failed")
            await asyncio.sleep(delay)

    def _own_node(self, node: core_pb2.Node) -> None:
        """Our Node as the control plane has it: not Ready there means post now."""
        ready = next((x.status for x in node.status.conditions if x.type == "Ready"), "")
        if ready != "True":
            self.status_now()
