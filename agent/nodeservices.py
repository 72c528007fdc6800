"""The node's part of Services: one ServiceWatch feeding the service proxy (nftables)
and the node-local DNS server, and what pods get from Services (the ServicesPort of
agent/ports.py: environment, resolv.conf, hosts file, the drain); what `run_agent`
starts beside the pod workers.

    services = NodeServices(cfg, api, ServiceNetAdapter())   # agent/adapters/servicenet.py
    loops = await services.start()     # coroutines to run; DNS is bound when this returns
    ...
    services.stop()                    # DNS down; the rules stay (traffic keeps flowing)

Everything happens in the network namespace the agent runs in (the node's).
With `--service-proxy none` no rules are made; with `--cluster-dns ""` no DNS (pods
then get the node's resolv.conf, as the kubelet does without a cluster DNS).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Coroutine
from typing import Any

from agent.backoff import RetryBackoff
from agent.config import AgentConfig
from agent.dns.resolvconf import ClusterDNS, ResolvConf, hosts_file, resolv_conf
from agent.dns.server import DnsServer
from agent.dns.zone import build_zone, reverse_zones
from agent.drain import Drain
from agent.drain import bound as drain_bound
from agent.metrics import AgentMetrics
from agent.ports import ApiPort, DrainProgress
from agent.proxy.conntrack import ConntrackCommand
from agent.proxy.nft import NftCommand
from agent.proxy.ports import PlumbingError, ServiceNet
from agent.proxy.proxier import Proxier, ProxyConfig
from agent.proxy.publish import ANNOTATION, SyncedRevision
from agent.serviceenv import service_env
from agent.servicewatch import ServiceWatch
from proto import core_pb2

log = logging.getLogger("corral.agent.services")

BRIDGE = "corral0"      # agent/adapters/network.py's pod bridge
NODE_RESOLV_CONF = "/etc/resolv.conf"
SERVICES_CACHE = "services.pb"     # in the data dir: what pods get while the API is away
NODE_HOSTS = "/etc/hosts"
DNS_BIND_TRIES = 10
ZONE_PACE = 3.0          # pause after a zone rebuild: 3x what it took ...
ZONE_PAUSE_MAX = 1.0     # ... at most 1 s


class NodeServices:
    def __init__(self, cfg: AgentConfig, api: ApiPort, net: ServiceNet | None = None) -> None:
        self.cfg = cfg
        self.net = net      # None: no route, no DNS address (tests); agent/adapters/servicenet
        p = cfg.profile
        self.watch = ServiceWatch(api, lambda: RetryBackoff(p.api_retry_initial,
                                                            p.api_retry_max),
                                  cache_path=os.path.join(cfg.data_dir, SERVICES_CACHE))
        self.publisher = SyncedRevision(api, cfg.node_name,
                                        RetryBackoff(p.api_retry_initial, p.api_retry_max),
                                        seen=self._published)
        self.proxier: Proxier | None = None
        if cfg.service_proxy and not NftCommand.installed():
            log.error("no service proxy on this node: the nft command is not installed "
                      "(apt-get install nftables conntrack)")
        elif cfg.service_proxy:
            self.proxier = Proxier(
                ProxyConfig(node_name=cfg.node_name, cluster_cidr=cfg.cluster_cidr,
                            service_cidr=cfg.service_cidr, dns_ip=cfg.cluster_dns),
                self.watch, NftCommand(), ConntrackCommand(), plumbing=self._plumbing,
                publish=self.publisher)
        self.dns: DnsServer | None = None
        self.drainer = Drain(self.watch)

    def _published(self) -> str | None:
        """This node's synced-revision annotation as the nodes watch has it."""
        obj = self.watch.nodes.items().get(self.cfg.node_name)
        return obj.node.metadata.annotations.get(ANNOTATION, "") if obj is not None else None

    async def _plumbing(self, present: bool) -> None:
        if self.net is None:
            return
        if present:
            await self.net.ensure_route(self.cfg.service_cidr, BRIDGE)
        else:
            await self.net.remove_route(self.cfg.service_cidr)

    async def start(self) -> list[Coroutine[Any, Any, None]]:
        """Bind the DNS server (its address first) and return the loops to run."""
        loops: list[Coroutine[Any, Any, None]] = [self._watch()]
        if self.proxier is not None:
            loops += [self.proxier.run(), self.publisher.run()]
        if self.cfg.cluster_dns:
            try:
                if self.net is not None:
                    await self.net.ensure_dns_address(self.cfg.cluster_dns)
            except PlumbingError as e:
                log.error("no cluster DNS on this node: %s", e)
                return loops
            nets = [self.cfg.service_cidr, self.cfg.cluster_cidr]
            reverse = [z for n in nets for z in reverse_zones(n)]
            for attempt in range(DNS_BIND_TRIES):     # a previous agent may still be going
                dns = DnsServer([(self.cfg.cluster_dns, 53)], self.cfg.dns_upstreams,
                                reverse_nets=reverse)
                try:
                    await asyncio.to_thread(dns.start)
                    self.dns = dns
                    break
                except OSError as e:
                    if attempt + 1 == DNS_BIND_TRIES:
                        log.error("no cluster DNS on this node: cannot listen on %s:53: %s",
                                  self.cfg.cluster_dns, e)
                        return loops
                    await asyncio.sleep(0.5)
            log.info("cluster DNS for %s on %s:53 (upstream: %s)", self.cfg.cluster_domain,
                     self.cfg.cluster_dns, ", ".join(self.cfg.dns_upstreams) or "none")
            loops.append(self._keep_zone())
        return loops

    async def _watch(self) -> None:
        await asyncio.gather(*self.watch.start())

    async def _keep_zone(self) -> None:
        changed = asyncio.Event()
        self.watch.services.listeners.append(changed.set)
        self.watch.slices.listeners.append(changed.set)
        if not self.watch.restored:       # a zone from the cache serves until the API answers
            await asyncio.gather(self.watch.services.synced.wait(),
                                 self.watch.slices.synced.wait())
        while True:
            changed.clear()
            t0 = time.monotonic()
            if self.dns is not None:
                try:
                    self.dns.zone = build_zone(self.watch.services.items().values(),
                                               self.watch.slices.items().values(),
                                               self.cfg.cluster_domain)
                except Exception:     # keep answering from the zone we have
                    log.exception("cannot build the DNS zone")
            # a burst of changes (1,000 Services created) is one rebuild per pause, not one
            # per change: building the zone stays under a quarter of the loop's time
            await asyncio.sleep(min(ZONE_PACE * (time.monotonic() - t0), ZONE_PAUSE_MAX))
            await changed.wait()

    def observe(self, metrics: AgentMetrics) -> None:
        """Report proxy syncs and DNS queries to the agent's metrics."""
        if self.proxier is not None:
            self.proxier.on_sync = metrics.proxy_synced
        dns = self.dns
        if dns is not None:
            metrics.dns_source(lambda: dns.queries)

    # ---- ServicesPort: what pods get ------------------------------------------------

    def service_env(self, pod: core_pb2.Pod) -> list[tuple[str, str]] | None:
        if not self.watch.known():
            return None
        return service_env(pod, self.watch.services.items().values())

    def resolv_conf(self, pod: core_pb2.Pod) -> str:
        cluster = ClusterDNS(self.nameserver(), self.cfg.cluster_domain)
        return resolv_conf(pod, cluster, ResolvConf.parse(_read(NODE_RESOLV_CONF)))

    def hosts_file(self, pod: core_pb2.Pod, pod_ip: str) -> str:
        return hosts_file(pod, pod_ip, self.cfg.cluster_domain, _read(NODE_HOSTS))

    def drain(self, pod: core_pb2.Pod) -> DrainProgress:
        st = self.drainer.check(pod)
        return DrainProgress(st.done, st.why, len(st.services), len(st.nodes))

    def drain_bound(self, pod: core_pb2.Pod) -> float:
        if self.proxier is None:
            return 0.0
        return drain_bound(pod, self.cfg.profile.drain_timeout)

    def stop(self) -> None:
        if self.dns is not None:
            self.dns.stop()

    def nameserver(self) -> str:
        """What pods with dnsPolicy ClusterFirst get as their nameserver ("": none)."""
        return self.cfg.cluster_dns if self.dns is not None else ""


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
