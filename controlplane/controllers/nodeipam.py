"""Node IPAM controller: give each Node a spec.podCIDR from the cluster CIDR.

The cluster CIDR (default 10.244.0.0/16) is cut into subnets of
``node_mask`` bits (default /24); a node without a podCIDR gets the lowest
free one; a deleted node's subnet is free again. A podCIDR already in a Node's
spec (set when it was created, kubelet ``--pod-cidr`` style) is kept as it is.

Finding the lowest free subnet costs O(nodes) per allocation (the set of CIDRs in
use), not O(nodes) subnet objects walked from the start: every subnet below
``_hint`` is known to be in use, so a run of registrations walks one or two.
"""

from __future__ import annotations

import ipaddress
import logging

from controlplane import events
from controlplane.client import Client
from controlplane.informer import Handler, InformerFactory
from controlplane.objects import copy_of
from proto import api_pb2

from .base import DONE, Controller, Result

log = logging.getLogger(__name__)


class NodeIpamController(Controller):
    name = "nodeipam"
    workers = 1  # allocation is serialised

    def __init__(self, client: Client, factory: InformerFactory, *,
                 cluster_cidr: str = "10.244.0.0/16", node_mask: int = 24,
                 recorder: events.EventRecorder | None = None) -> None:
        super().__init__(backoff_initial=0.01, backoff_max=5.0)
        self.client = client
        self.network = ipaddress.ip_network(cluster_cidr)
        if node_mask < self.network.prefixlen:
            raise ValueError(f"node mask /{node_mask} is larger than cluster CIDR {cluster_cidr}")
        if node_mask > 30:  # a node needs its bridge address and at least one pod's
            raise ValueError(f"node mask /{node_mask} is too small for pods (/30 at most)")
        self.node_mask = node_mask
        self._subnets = 1 << (node_mask - self.network.prefixlen)
        self._host_bits = self.network.max_prefixlen - node_mask
        self._hint = 0   # every subnet index below it is in use
        self.recorder = recorder or events.EventRecorder(client, "node-ipam-controller")
        self.nodes = factory.informer("nodes")
        self._alloc: dict[str, str] = {}  # node -> cidr (includes in-flight allocations)
        self.nodes.add_handler(Handler(self._changed, lambda o, n: self._changed(n),
                                       self._deleted))

    async def wait_synced(self) -> None:
        await self.nodes.wait_synced()

    def _changed(self, o: api_pb2.Object) -> None:
        self.enqueue(o.node.metadata.name)

    def _deleted(self, o: api_pb2.Object) -> None:
        self._free(self._alloc.pop(o.node.metadata.name, None))
        self._free(o.node.spec.pod_cidr)
        self.enqueue(o.node.metadata.name)

    def _index(self, cidr: str) -> int | None:
        """The subnet index of `cidr` in the cluster CIDR (None: not one of its subnets)."""
        try:
            net = ipaddress.ip_network(cidr)
        except ValueError:
            return None
        if net.prefixlen != self.node_mask or not net.subnet_of(self.network):  # type: ignore[arg-type]
            return None
        return (int(net.network_address) - int(self.network.network_address)) >> self._host_bits

    def _subnet(self, index: int) -> str:
        base = int(self.network.network_address) + (index << self._host_bits)
        return str(ipaddress.ip_network((base, self.node_mask)))

    def _free(self, cidr: str | None) -> None:
        idx = self._index(cidr) if cidr else None
        if idx is not None:
            self._hint = min(self._hint, idx)

    def _used(self) -> set[str]:
        used = set(self._alloc.values())
        for o in self.nodes.list():
            if o.node.spec.pod_cidr:
                used.add(o.node.spec.pod_cidr)
        return used

    def next_free(self) -> str | None:
        """The lowest free subnet (all below self._hint are in use)."""
        used = self._used()
        for idx in range(self._hint, self._subnets):
            s = self._subnet(idx)
            if s not in used:
                self._hint = idx
                return s
        self._hint = self._subnets
        return None

    async def reconcile(self, key: str) -> Result:
        obj = self.nodes.get(key)
        if obj is None:
            self._alloc.pop(key, None)
            return DONE
        if obj.node.spec.pod_cidr:
            self._alloc[key] = obj.node.spec.pod_cidr
            return DONE
        cidr = self._alloc.get(key) or self.next_free()
        if cidr is None:
            self.recorder.record(obj, events.WARNING, "CIDRNotAvailable",
                                 f"Node {key} status is now: CIDRNotAvailable")
            return Result(requeue_after=30.0)
        self._alloc[key] = cidr
        upd = copy_of(obj)
        upd.node.spec.pod_cidr = cidr
        del upd.node.spec.pod_cidrs[:]
        upd.node.spec.pod_cidrs.append(cidr)
        try:
            await self.client.update(upd)
        except Exception:
            self._free(self._alloc.pop(key, None))
            raise
        self.recorder.record(obj, events.NORMAL, "CIDRAssignmentSucceeded",
                             f"Assigned pod CIDR {cidr} to node {key}")
        return DONE
