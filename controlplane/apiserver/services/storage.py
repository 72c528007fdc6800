"""Writing Services: the registry's create, update and delete of a Service, with
its cluster IP and node ports claimed or released in the same etcd transaction
(controlplane/store/claims.py).

    storage = ServiceStorage(store, ServiceNetwork.parse())
    created = await storage.create(new, guard)          # registry.create
    written = await storage.update(old, new)            # registry's CAS loop
    removed = await storage.delete(current)             # registry.delete
    storage.dry_run(new)                                 # what create would assign

Claims live under /corral/allocations/serviceips/<ip> and
/corral/allocations/nodeports/<port>, each naming its Service
("<namespace>/<name>@<uid>"). A claim lost to a concurrent writer is retried
with a fresh pick; a requested value that is taken is an Invalid error naming
the field, and nothing is written.
"""

from __future__ import annotations

import random

from controlplane import errors
from controlplane.apiserver import objects as o
from controlplane.apiserver.services import allocation
from controlplane.apiserver.services.admission import target_port_errors
from controlplane.apiserver.services.network import ServiceNetwork
from controlplane.store.claims import (
    ALLOCATIONS,
    Claim,
    Claimed,
    claimed_keys,
    create_claiming,
    delete_releasing,
    update_claiming,
)
from controlplane.store.etcd_store import Guard, Store
from proto import api_pb2, labels, service_pb2

ATTEMPTS = 8


def owner_of(svc: service_pb2.Service) -> str:
    m = svc.metadata
    return f"{m.namespace}/{m.name}@{m.uid}"


def key_of(pool: str, value: str) -> str:
    return f"{ALLOCATIONS}{pool}/{value}"


class ServiceStorage:
    def __init__(self, store: Store, network: ServiceNetwork | None = None,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.network = network or ServiceNetwork.parse()
        self.rng = rng or random.Random()

    async def taken(self, ips: bool = True, ports: bool = True) -> tuple[set[str], set[int]]:
        """Every cluster IP and node port some Service holds (only the pools asked for)."""
        held_ips = await claimed_keys(self.store, f"{ALLOCATIONS}{allocation.IPS}/") \
            if ips else set()
        held_ports = await claimed_keys(self.store, f"{ALLOCATIONS}{allocation.PORTS}/") \
            if ports else set()
        return held_ips, {int(p) for p in held_ports if p.isdigit()}

    def _claims(self, svc: service_pb2.Service, items: allocation.Held) -> list[Claim]:
        owner = owner_of(svc)
        return [Claim(key_of(pool, value), owner) for pool, value in sorted(items)]

    async def _admit(self, obj: api_pb2.Object) -> None:
        svc = obj.service
        if not svc.spec.selector or not any(
                p.target_port.WhichOneof("value") == "str_val" for p in svc.spec.ports):
            return
        sel = labels.parse_selector(",".join(f"{k}={v}"
                                             for k, v in sorted(svc.spec.selector.items())))
        pods, _ = await self.store.list("pods", svc.metadata.namespace)
        chosen = [p.pod for p in pods if sel.matches(p.pod.metadata.labels)
                  and p.pod.status.phase not in ("Succeeded", "Failed")]
        problems = target_port_errors(svc, chosen)
        if problems:
            raise errors.Invalid(o.describe(obj), problems)

    async def _assign(self, obj: api_pb2.Object, old: api_pb2.Object | None) -> None:
        spec = obj.service.spec
        ips, ports = await self.taken(allocation.needs_cluster_ip(spec),
                                      allocation.needs_node_ports(spec))
        problems = allocation.assign(obj.service.spec, old.service.spec if old else None,
                                     self.network, ips, ports, self.rng)
        if problems:
            raise errors.Invalid(o.describe(obj), list(problems))

    async def dry_run(self, new: api_pb2.Object) -> api_pb2.Object:
        """What a create would store (an address picked, nothing claimed)."""
        await self._admit(new)
        out = o.copy(new)
        await self._assign(out, None)
        return out

    async def create(self, new: api_pb2.Object, guard: Guard | None) -> api_pb2.Object:
        await self._admit(new)
        for _ in range(ATTEMPTS):
            candidate = o.copy(new)
            await self._assign(candidate, None)
            claims = self._claims(candidate.service, allocation.held(candidate.service.spec))
            try:
                return await create_claiming(self.store, candidate, guard, claims)
            except Claimed:
                continue
        raise errors.Conflict(f"{o.describe(new)}: addresses keep being taken; try again")

    async def update(self, old: api_pb2.Object, new: api_pb2.Object) -> api_pb2.Object:
        if old.service.spec == new.service.spec:
            return await self.store.update(new)
        await self._admit(new)
        await self._assign(new, old)
        before, after = allocation.held(old.service.spec), allocation.held(new.service.spec)
        return await update_claiming(self.store, new,
                                     self._claims(new.service, after - before),
                                     self._claims(old.service, before - after))

    async def delete(self, cur: api_pb2.Object) -> api_pb2.Object:
        m = cur.service.metadata
        return await delete_releasing(
            self.store, "services", m.namespace, m.name, m.resource_version,
            self._claims(cur.service, allocation.held(cur.service.spec)))
