"""How Services, EndpointSlices and a pod's hostAliases patch and print, as Kubernetes
declares them: Service ports merged by port (server-side apply: port and protocol),
EndpointSlice lists atomic, the fields Go always writes present."""

from __future__ import annotations

from proto import codec, discovery_pb2, kinds, service_pb2
from proto.patch import strategic_merge
from proto.patch.meta import field_meta

SVC = service_pb2.Service.DESCRIPTOR


def test_service_ports_merge_by_port() -> None:
    original = {"spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"},
                                   {"port": 443, "targetPort": 8443, "name": "https"}]}}
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
    out = strategic_merge(original, patch, SVC)
    assert out["spec"]["ports"] == [
        {"port": 80, "targetPort": 9090, "name": "http"},
        {"port": 443, "targetPort": 8443, "name": "https"}]
    gone = strategic_merge(original, {"spec": {"ports": [{"port": 443, "$patch": "delete"}]}},
                           SVC)
    assert [p["port"] for p in gone["spec"]["ports"]] == [80]


def test_list_types_as_kubernetes_declares_them() -> None:
    ports = field_meta(service_pb2.ServiceSpec.DESCRIPTOR, "ports")
    assert (ports.list_type, ports.merge_key, ports.map_keys) == \
        ("map", "port", ("port", "protocol"))
    for desc, name in ((discovery_pb2.EndpointSlice.DESCRIPTOR, "endpoints"),
                       (discovery_pb2.EndpointSlice.DESCRIPTOR, "ports"),
                       (service_pb2.Endpoints.DESCRIPTOR, "subsets"),
                       (service_pb2.ServiceSpec.DESCRIPTOR, "clusterIPs")):
        assert field_meta(desc, name).list_type == "atomic", name


def test_endpoint_slice_replaced_whole_by_a_merge_patch() -> None:
    original = {"endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]}
    out = strategic_merge(original, {"endpoints": [{"addresses": ["10.0.0.3"]}]},
                          discovery_pb2.EndpointSlice.DESCRIPTOR)
    assert out["endpoints"] == [{"addresses": ["10.0.0.3"]}]


def test_fields_kubernetes_always_writes() -> None:
    svc = service_pb2.Service()
    svc.metadata.name = "web"
    svc.spec.ports.add(protocol="UDP").target_port.int_val = 53
    out = codec.encode(kinds.wrap(svc))
    assert out["status"] == {"loadBalancer": {}}          # kubectl get svc -o yaml
    assert out["spec"]["ports"][0]["port"] == 0
    empty = codec.encode(kinds.wrap(discovery_pb2.EndpointSlice()))
    assert empty["endpoints"] is None and empty["ports"] is None   # nil slices: null
    assert empty["addressType"] == ""
    es = discovery_pb2.EndpointSlice(address_type="IPv4")
    es.endpoints.add()
    assert codec.encode(kinds.wrap(es))["endpoints"] == [{"addresses": None,
                                                         "conditions": {}}]
    ep = service_pb2.Endpoints()
    ep.subsets.add().addresses.add(hostname="a")
    assert codec.encode(kinds.wrap(ep))["subsets"][0]["addresses"] == [
        {"ip": "", "hostname": "a"}]
