"""The `kubernetes` Service in `default`, and its endpoints: the API servers.

Like Kubernetes' bootstrap controller and lease endpoint reconciler, every
API server replica (not only the leader):

- makes sure Service `default/kubernetes` exists: cluster IP the first of the
  service CIDR (10.96.0.1), port 443 named https to the API servers' port, no
  selector (the endpoints controller leaves it alone);
- renews a Lease `corral-system/apiserver-<hash>` (label
  apiserver.kubernetes.io/identity) naming its advertised address, every
  `interval` seconds, valid for `ttl`;
- writes Endpoints `default/kubernetes` and EndpointSlice `default/kubernetes`
  with the addresses of the leases still valid. A replica that stops removes
  its lease, so its address leaves at once; one that dies ages out after `ttl`.

A loopback advertise address (a test API server on 127.0.0.1) is not a valid
endpoint: then the Service is kept but no endpoints are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import time
from typing import Any

from controlplane import errors
from controlplane.apiserver.services.network import ServiceNetwork
from proto import api_pb2, discovery_pb2, service_pb2

log = logging.getLogger(__name__)

NAME = "kubernetes"
NAMESPACE = "default"
LEASE_NAMESPACE = "corral-system"
IDENTITY_LABEL = "apiserver.kubernetes.io/identity"
IDENTITY = "corral-controlplane"
SLICE_MANAGER = "kube-apiserver"


def kubernetes_service(net: ServiceNetwork, port: int) -> api_pb2.Object:
    obj = api_pb2.Object()
    s = obj.service
    s.metadata.name, s.metadata.namespace = NAME, NAMESPACE
    s.metadata.labels.update({"component": "apiserver", "provider": "kubernetes"})
    s.spec.cluster_ip = net.kubernetes_ip
    p = s.spec.ports.add(name="https", protocol="TCP", port=443)
    p.target_port.int_val = port
    return obj


class ApiServerEndpoints:
    def __init__(self, registry: Any, net: ServiceNetwork, address: str, port: int, *,
                 interval: float = 10.0, ttl: int = 30) -> None:
        self.registry = registry
        self.net = net
        self.address = address
        self.port = port
        self.interval = interval
        self.ttl = ttl
        digest = hashlib.sha256(f"{address}:{port}".encode()).hexdigest()[:12]
        self.lease_name = f"apiserver-{digest}"
        self.routable = _routable(address)

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.sync_once()
                except errors.ApiError as e:
                    log.warning("the kubernetes Service and its endpoints: %s", e)
                await asyncio.sleep(self.interval)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.leave())

    async def sync_once(self) -> None:
        await self._ensure_service()
        if not self.routable:
            return
        await self._renew()
        await self._write_endpoints(await self._live())

    async def leave(self) -> None:
        """Take this replica's address out (a clean stop)."""
        if not self.routable:
            return
        with contextlib.suppress(errors.NotFound):
            await self.registry.delete("leases", LEASE_NAMESPACE, self.lease_name)
        await self._write_endpoints(await self._live())

    # ---- the pieces -------------------------------------------------------------------

    async def _ensure_service(self) -> None:
        try:
            await self.registry.get("services", NAMESPACE, NAME)
        except errors.NotFound:
            with contextlib.suppress(errors.AlreadyExists):
                await self.registry.create(kubernetes_service(self.net, self.port))
                log.info("created Service default/kubernetes at %s", self.net.kubernetes_ip)

    async def _renew(self) -> None:
        obj = api_pb2.Object()
        ls = obj.lease
        ls.metadata.name, ls.metadata.namespace = self.lease_name, LEASE_NAMESPACE
        ls.metadata.labels[IDENTITY_LABEL] = IDENTITY
        ls.spec.holder_identity = f"{self.address}:{self.port}"
        ls.spec.lease_duration_seconds = self.ttl
        ls.spec.renew_time.GetCurrentTime()
        await self.registry.apply(obj)

    async def _live(self) -> list[tuple[str, int]]:
        now = time.time()
        out = set()
        lst = await self.registry.list("leases", LEASE_NAMESPACE,
                                       label_selector=f"{IDENTITY_LABEL}={IDENTITY}")
        for o in lst.items:
            sp = o.lease.spec
            renewed = sp.renew_time.seconds + sp.renew_time.nanos / 1e9
            host, _, port = sp.holder_identity.rpartition(":")
            if renewed + sp.lease_duration_seconds >= now and port.isdigit() and \
                    _routable(host):
                out.add((host, int(port)))
        return sorted(out)

    async def _write_endpoints(self, live: list[tuple[str, int]]) -> None:
        ep = api_pb2.Object()
        e = ep.endpoints
        e.metadata.name, e.metadata.namespace = NAME, NAMESPACE
        by_port: dict[int, list[str]] = {}
        for host, port in live:
            by_port.setdefault(port, []).append(host)
        for port, hosts in sorted(by_port.items()):
            subset = e.subsets.add()
            subset.addresses.extend(service_pb2.EndpointAddress(ip=h) for h in hosts)
            subset.ports.add(name="https", port=port, protocol="TCP")
        await self.registry.apply(ep)
        es = api_pb2.Object()
        s = es.endpoint_slice
        s.metadata.name, s.metadata.namespace = NAME, NAMESPACE
        s.metadata.labels.update({"kubernetes.io/service-name": NAME,
                                  "endpointslice.kubernetes.io/managed-by": SLICE_MANAGER})
        s.address_type = "IPv4"
        for host, _ in live:
            ept = s.endpoints.add(addresses=[host])
            ept.conditions.CopyFrom(discovery_pb2.EndpointConditions(
                ready=True, serving=True, terminating=False))
        port = live[0][1] if live else self.port
        s.ports.append(discovery_pb2.EndpointSlicePort(name="https", protocol="TCP", port=port))
        await self.registry.apply(es)


def _routable(host: str) -> bool:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified or addr.is_link_local)


def advertise_address(listen: str, flag: str = "") -> str:
    """--advertise-address, else the --listen host unless it is a wildcard, else the
    address of the default route."""
    if flag:
        return flag
    host = listen.rpartition(":")[0].strip("[]")
    if host and host not in ("0.0.0.0", "::"):
        return host
    import socket
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))   # TEST-NET-1: nothing is sent
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"
