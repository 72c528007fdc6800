"""Services in the registry against a real etcd: cluster IPs and node ports are
claimed with the Service in one transaction, never handed out twice, kept by
updates that leave them out, given back on delete, and survive a restart."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from controlplane import errors
from controlplane.apiserver.registry import Registry
from controlplane.apiserver.services.network import ServiceNetwork
from controlplane.store.claims import ALLOCATIONS, claimed
from controlplane.store.etcd_store import Store
from proto import api_pb2
from tests.support.aio import run
from tests.support.etcd import EtcdProcess


def service(name: str, ns: str = "default", *, ip: str = "", type_: str = "",
            ports: tuple[tuple[int, int], ...] = ((80, 0),), **selector: str) -> api_pb2.Object:
    obj = api_pb2.Object()
    s = obj.service
    s.metadata.name = name
    s.metadata.namespace = ns
    s.spec.selector.update(selector or {"app": name})
    if ip:
        s.spec.cluster_ip = ip
    if type_:
        s.spec.type = type_
    for i, (port, node_port) in enumerate(ports):
        s.spec.ports.add(name=f"p{i}" if len(ports) > 1 else "", port=port, node_port=node_port)
    return obj


def uniq() -> str:
    return "s" + uuid.uuid4().hex[:8]


async def _registry(etcd: EtcdProcess, cidr: str = "10.96.0.0/12",
                    ports: str = "30000-32767") -> tuple[Registry, Store]:
    store = Store(etcd.endpoint)
    reg = Registry(store, service_network=ServiceNetwork.parse(cidr, ports))
    await reg.start()
    return reg, store


def test_cluster_ips_unique_under_concurrency_and_released(etcd: EtcdProcess) -> None:
    async def main() -> None:
        reg, store = await _registry(etcd)
        try:
            ns = uniq()
            ns_obj = api_pb2.Object()
            ns_obj.namespace.metadata.name = ns
            await reg.create(ns_obj)
            made = await asyncio.gather(*(reg.create(service(f"svc-{i}", ns))
                                          for i in range(40)))
            ips = [m.service.spec.cluster_ip for m in made]
            assert len(set(ips)) == 40
            net = ServiceNetwork.parse()
            assert all(net.offset_of(ip) is not None for ip in ips)
            held = await claimed(store, f"{ALLOCATIONS}serviceips/")
            for m in made:
                owner = f"{ns}/{m.service.metadata.name}@"
                assert held[m.service.spec.cluster_ip].startswith(owner)
            assert [m.service.spec.cluster_ips[:] for m in made] == [[ip] for ip in ips]

            # asking for a held IP: Invalid, naming the field; nothing written
            with pytest.raises(errors.Invalid) as e:
                await reg.create(service("dup", ns, ip=ips[0]))
            assert "spec.clusterIPs" in str(e.value) and "already allocated" in str(e.value)
            with pytest.raises(errors.NotFound):
                await reg.get("services", ns, "dup")

            # deleting gives the IP back: it can be asked for again
            await reg.delete("services", ns, "svc-0")
            assert ips[0] not in await claimed(store, f"{ALLOCATIONS}serviceips/")
            again = await reg.create(service("again", ns, ip=ips[0]))
            assert again.service.spec.cluster_ip == ips[0]
        finally:
            await store.close()

    run(main())


def test_requested_ip_out_of_range_and_reserved(etcd: EtcdProcess) -> None:
    async def main() -> None:
        reg, store = await _registry(etcd)
        try:
            with pytest.raises(errors.Invalid) as e:
                await reg.create(service(uniq(), ip="10.0.0.5"))
            assert "not in the valid range" in str(e.value) and "10.96.0.0/12" in str(e.value)
            with pytest.raises(errors.Invalid) as e:
                await reg.create(service(uniq(), ip="10.96.0.10"))
            assert "cluster DNS" in str(e.value)
        finally:
            await store.close()

    run(main())


def test_node_ports_allocation_update_and_restart(etcd: EtcdProcess) -> None:
    async def main() -> None:
        reg, store = await _registry(etcd)
        name = uniq()
        try:
            made = await reg.create(service(name, type_="NodePort",
                                            ports=((80, 0), (443, 30443))))
            p = made.service.spec.ports
            assert p[1].node_port == 30443
            assert 30000 <= p[0].node_port <= 32767 and p[0].node_port != 30443
            ip = made.service.spec.cluster_ip

            # another Service asking for the same node port: refused with the path
            with pytest.raises(errors.Invalid) as e:
                await reg.create(service(uniq(), type_="NodePort", ports=((80, 30443),)))
            assert "spec.ports[0].nodePort" in str(e.value)
            assert "already allocated" in str(e.value)
            with pytest.raises(errors.Invalid) as e:
                await reg.create(service(uniq(), type_="NodePort", ports=((80, 40000),)))
            assert "valid range" in str(e.value) and "30000-32767" in str(e.value)
        finally:
            await store.close()

        # a restarted control plane (new store and registry) keeps everything
        reg, store = await _registry(etcd)
        try:
            applied, result = await reg.apply(service(name, type_="NodePort",
                                                      ports=((80, 0), (443, 30443))))
            assert result == "unchanged"
            assert applied.service.spec.cluster_ip == ip
            assert applied.service.spec.ports[0].node_port == p[0].node_port
            # back to ClusterIP: the node ports are released, the IP stays
            upd, result = await reg.apply(service(name, ports=((80, 0), (443, 0))))
            assert result == "configured"
            assert upd.service.spec.cluster_ip == ip
            assert all(x.node_port == 0 for x in upd.service.spec.ports)
            ports = await claimed(store, f"{ALLOCATIONS}nodeports/")
            assert "30443" not in ports and str(p[0].node_port) not in ports
            # changing the cluster IP is refused
            with pytest.raises(errors.Invalid) as e:
                await reg.apply(service(name, ip="10.96.100.100", ports=((80, 0), (443, 0))))
            assert "spec.clusterIPs[0]" in str(e.value)
        finally:
            await store.close()

    run(main())


def test_small_range_fills_up(etcd: EtcdProcess) -> None:
    async def main() -> None:
        reg, store = await _registry(etcd, cidr="10.200.0.0/28", ports="31000-31001")
        try:
            ns = uniq()
            ns_obj = api_pb2.Object()
            ns_obj.namespace.metadata.name = ns
            await reg.create(ns_obj)
            # a /28 has 14 usable addresses, one of which is the DNS address (.10)
            for i in range(13):
                await reg.create(service(f"s{i}", ns))
            with pytest.raises(errors.Invalid) as e:
                await reg.create(service("full", ns))
            assert "range is full" in str(e.value)
            # an ExternalName needs no address
            ext = service("ext", ns)
            ext.service.spec.type = "ExternalName"
            ext.service.spec.external_name = "example.com"
            del ext.service.spec.ports[:]
            ext.service.spec.selector.clear()
            made = await reg.create(ext)
            assert made.service.spec.cluster_ip == ""
        finally:
            await store.close()

    run(main())
