"""The service proxy's loop: Services and EndpointSlices in, nftables rules out.

    proxier = Proxier(cfg, watch, NftCommand(), ConntrackCommand())
    await proxier.run()

Every change the watches see wakes it; changes that arrive while a sync runs
are folded into the next one. Each sync is one nft transaction (partial:
only what changed; full at start, after any failure and every
`full_resync` seconds), then the UDP flows to endpoints that went are
deleted from conntrack, then `publish(revision)` says up to which
EndpointSlice revision this node's rules are in place (the drain before a
pod stops waits for every node to pass the revision that took the pod out).
Rules stay when the agent stops (traffic keeps flowing; the next agent
resyncs); they are removed when this node's Node object is deleted, and come
back if it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agent.proxy import ProxyError
from agent.proxy.model import ServicePort, service_ports
from agent.proxy.ports import Conntrack, Netfilter, PlumbingError
from agent.proxy.rules import NodeNet, RenderCache, Ruleset, desired
from agent.proxy.transaction import Existing, transaction
from agent.servicewatch import ServiceWatch

log = logging.getLogger("corral.agent.proxy")

Flow = tuple[str, int, str]      # (original destination, original port, DNAT target)


@dataclass(frozen=True)
class ProxyConfig:
    node_name: str
    cluster_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/12"
    dns_ip: str = "10.96.0.10"
    full_resync: float = 300.0
    retry: float = 1.0
    pause_max: float = 1.0       # the longest pause between syncs (see run)


def stale_udp_flows(old: dict[str, ServicePort], new: dict[str, ServicePort]) -> list[Flow]:
    """UDP flows to delete: to endpoints that went, and (kube-proxy does the same) every
    flow of a Service port that had no endpoints and now has some."""
    out: list[Flow] = []
    for key, sp in old.items():
        if sp.protocol != "udp":
            continue
        cur = new.get(key)
        for ep in sorted(set(sp.endpoints) - set(cur.endpoints if cur else ())):
            out.append((sp.cluster_ip, sp.port, ep.ip))
            if sp.node_port:
                out.append(("", sp.node_port, ep.ip))
    for key, sp in new.items():
        if sp.protocol == "udp" and sp.endpoints and (key not in old or not old[key].endpoints):
            out.append((sp.cluster_ip, sp.port, ""))
            if sp.node_port:
                out.append(("", sp.node_port, ""))
    return out


class Proxier:
    def __init__(self, cfg: ProxyConfig, watch: ServiceWatch, nft: Netfilter,
                 conntrack: Conntrack, *,
                 plumbing: Callable[[bool], Awaitable[None]] | None = None,
                 publish: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.watch = watch
        self.nft = nft
        self.conntrack = conntrack
        self.plumbing = plumbing      # plumbing(True): route + DNS address; (False): remove
        self.publish = publish
        self.have: Ruleset | None = None
        self._rendered: RenderCache = {}     # each Service port's rules as last rendered
        self.ports: dict[str, ServicePort] = {}
        self.synced_revision = ""
        self.syncs = 0
        self.last_seconds = 0.0       # how long the last sync took
        self.on_sync: Callable[[float, bool], None] | None = None   # metrics
        self._dirty = asyncio.Event()
        self._node_seen = False
        self._removed = False
        self._plumbed = False
        self._node_state: tuple[bool, str] = (False, "")

    def _node(self) -> tuple[bool, str]:
        """(this node exists, its pod CIDR) as the nodes watch has it."""
        obj = self.watch.nodes.items().get(self.cfg.node_name)
        return (obj is not None, obj.node.spec.pod_cidr if obj is not None else "")

    def _node_changed(self) -> None:
        """Other nodes' changes (their status, their synced revisions) are no concern of
        the rules: wake only when this node comes, goes or gets its pod CIDR."""
        state = self._node()
        if state != self._node_state:
            self._node_state = state
            self._dirty.set()

    def _node_removed(self) -> bool:
        present = self.cfg.node_name in self.watch.nodes.items()
        self._node_seen = self._node_seen or present
        return self._node_seen and not present

    async def run(self) -> None:
        self.watch.services.listeners.append(self._dirty.set)
        self.watch.slices.listeners.append(self._dirty.set)
        self.watch.nodes.listeners.append(self._node_changed)
        await self.watch.synced()
        last_full = 0.0
        while True:
            self._dirty.clear()
            wait = self.cfg.full_resync
            try:
                if self._node_removed():
                    await self.remove()
                else:
                    full = self.have is None or \
                        time.monotonic() - last_full >= self.cfg.full_resync
                    await self.sync(full=full)
                    if full:
                        last_full = time.monotonic()
                    wait = max(last_full + self.cfg.full_resync - time.monotonic(), 0.0)
            except ProxyError as e:
                log.warning("service proxy sync failed (retrying with a full sync): %s", e)
                self.have = None
                wait = self.cfg.retry
            except Exception:      # a bug must not take the agent (and its pods) down
                log.exception("service proxy sync failed (retrying with a full sync)")
                self.have = None
                wait = self.cfg.retry
            # changes that keep coming (1,000 Services created) are batched: the next sync
            # waits as long as the last took, so the proxy takes at most half a core
            await asyncio.sleep(min(self.last_seconds, self.cfg.pause_max))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), wait)

    async def sync(self, full: bool = False) -> None:
        t0 = time.perf_counter()
        revision = self.watch.slices.resource_version
        ports = service_ports(self.watch.services.items().values(),
                              self.watch.slices.items().values())
        net = NodeNet(pod_cidr=self._node()[1], cluster_cidr=self.cfg.cluster_cidr,
                      service_cidr=self.cfg.service_cidr, dns_ip=self.cfg.dns_ip)
        want = desired(ports, net, self._rendered)
        if full or self.have is None:
            existing = await self.nft.existing() or Existing()
            script = transaction(want, None, existing)
        else:
            script = transaction(want, self.have)
        if script:
            await self.nft.apply(script)
        self.have = want
        self._removed = False
        new_ports = {p.key: p for p in ports}
        flows = stale_udp_flows(self.ports, new_ports)
        self.ports = new_ports
        for dst, port, nat in flows:
            try:
                await self.conntrack.flush_udp(dst, port, nat)
            except ProxyError as e:
                log.warning("cannot delete stale UDP flows: %s", e)
        await self._plumb()
        self.syncs += 1
        self.synced_revision = revision
        seconds = self.last_seconds = time.perf_counter() - t0
        if self.on_sync is not None:
            self.on_sync(seconds, full)
        log.debug("service proxy: %s sync of %d service ports in %.3fs (revision %s)",
                  "full" if full else "partial", len(ports), seconds, revision)
        if self.publish is not None:
            self.publish(revision)

    async def _plumb(self) -> None:
        if self.plumbing is None or self._plumbed:
            return
        try:
            await self.plumbing(True)
            self._plumbed = True
        except PlumbingError as e:
            log.debug("service route / DNS address not in place yet: %s", e)

    async def remove(self) -> None:
        """This node left the cluster: its rules, route and DNS address go."""
        if self._removed:
            return
        log.info("node %s was removed: removing its service rules", self.cfg.node_name)
        await self.nft.delete_table()
        if self.plumbing is not None:
            with contextlib.suppress(PlumbingError):
                await self.plumbing(False)
        self.have, self.ports, self._plumbed, self._removed = None, {}, False, True
