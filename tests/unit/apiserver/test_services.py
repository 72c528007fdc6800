"""Services, EndpointSlices and pod DNS fields: Kubernetes' defaults and validation
(field paths and wording), and the allocation of cluster IPs and node ports."""

from __future__ import annotations

import random

import pytest
import yaml

from controlplane.apiserver.defaults import apply_defaults
from controlplane.apiserver.services import allocation
from controlplane.apiserver.services.network import NetworkConfigError, ServiceNetwork
from controlplane.apiserver.validation import validate
from proto import codec


def obj(text: str):
    o = codec.decode(yaml.safe_load(text))
    apply_defaults(o)
    return o


def errors_of(text: str) -> list[str]:
    return [str(e) for e in validate(obj(text))]


SVC = """
apiVersion: v1
kind: Service
metadata: {name: my-service}
spec:
  selector: {app.kubernetes.io/name: MyApp}
  ports:
  - {protocol: TCP, port: 80, targetPort: 9376}
"""


def test_the_docs_service_defaults_like_kubernetes() -> None:
    o = obj(SVC)
    assert validate(o) == []
    doc = codec.encode(o)
    assert doc["spec"]["type"] == "ClusterIP"
    assert doc["spec"]["sessionAffinity"] == "None"
    assert doc["spec"]["internalTrafficPolicy"] == "Cluster"
    assert doc["spec"]["ipFamilies"] == ["IPv4"]
    assert doc["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert doc["status"] == {"loadBalancer": {}}
    # targetPort defaults to port; NodePort gets externalTrafficPolicy; affinity its timeout
    o = obj(SVC.replace("targetPort: 9376", "name: web").replace(
        "spec:", "spec:\n  type: NodePort\n  sessionAffinity: ClientIP"))
    s = o.service.spec
    assert s.ports[0].target_port.int_val == 80
    assert s.external_traffic_policy == "Cluster"
    assert s.session_affinity_config.client_ip.timeout_seconds == 10800


@pytest.mark.parametrize("patch, expected", [
    ("metadata: {name: 1web}", 'metadata.name: Invalid value: "1web": a DNS-1035 label'),
    ("  - {port: 80, name: a}\n  - {port: 80, name: a}",
     'spec.ports[1].name: Duplicate value: "a"'),
    ("  - {port: 80, name: a}\n  - {port: 80, name: b}",
     'spec.ports[1]: Duplicate value: "80/TCP"'),
    ("  - {port: 80}\n  - {port: 81}", "spec.ports[0].name: Required value"),
    ("  - {port: 0}", "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535"),
    ("  - {port: 80, protocol: SCTP}", 'spec.ports[0].protocol: Unsupported value: "SCTP"'),
    ("  - {port: 80, targetPort: no_under}", "spec.ports[0].targetPort: Invalid value"),
    ("  - {port: 80, nodePort: 30001}",
     "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"),
    ("  type: LoadBalancer", 'spec.type: Invalid value: "LoadBalancer": corral has no load'),
    ("  externalTrafficPolicy: Cluster", "spec.externalTrafficPolicy: Invalid value"),
    ("  internalTrafficPolicy: Local", "spec.internalTrafficPolicy: Invalid value: \"Local\""),
    ("  clusterIP: 10.96.0.x", 'spec.clusterIPs[0]: Invalid value: "10.96.0.x"'),
    ("  ipFamilies: [IPv6]", 'spec.ipFamilies[0]: Invalid value: "IPv6"'),
    ("  sessionAffinity: Sometimes", 'spec.sessionAffinity: Unsupported value: "Sometimes"'),
    ("  type: ExternalName", "spec.externalName: Required value"),
    ("  clusterIP: None\n  sessionAffinity: ClientIP",
     "spec.sessionAffinity: Invalid value: \"ClientIP\": must be None when spec.clusterIP"),
])
def test_service_errors_name_the_field(patch: str, expected: str) -> None:
    text = SVC
    if patch.startswith("metadata"):
        text = text.replace("metadata: {name: my-service}", patch)
    elif patch.startswith("  -"):
        text = text.replace("  - {protocol: TCP, port: 80, targetPort: 9376}", patch)
    else:
        text = text.replace("spec:", "spec:\n" + patch)
    errs = errors_of(text)
    assert any(expected in e for e in errs), errs


def test_endpoint_slice_and_pod_dns_validation() -> None:
    errs = errors_of("""
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s}
addressType: IPv6
endpoints:
- addresses: [127.0.0.1]
ports:
- {name: x, port: 80, protocol: TCP}
- {name: x, port: 81, protocol: TCP}
""")
    assert 'addressType: Unsupported value: "IPv6"' in " ".join(errs)
    assert any(e.startswith("endpoints[0].addresses[0]: Invalid value") for e in errs)
    assert any(e.startswith("ports[1].name: Duplicate value") for e in errs)
    errs = errors_of("""
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  dnsPolicy: None
  hostAliases:
  - {ip: not-an-ip, hostnames: [foo.local]}
  containers: [{name: c, image: busybox}]
""")
    assert "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None" \
        in errs
    assert any(e.startswith("spec.hostAliases[0].ip: Invalid value") for e in errs)
    errs = errors_of("""
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  dnsPolicy: None
  dnsConfig:
    nameservers: [1.1.1.1, 8.8.8.8, 9.9.9.9, 1.0.0.1]
    searches: [ok.local, Bad_Name]
    options: [{value: "2"}]
  containers: [{name: c, image: busybox}]
""")
    assert any("must not have more than 3 nameservers" in e for e in errs)
    assert any(e.startswith("spec.dnsConfig.searches[1]") for e in errs)
    assert any(e.startswith("spec.dnsConfig.options[0].name: Required value") for e in errs)


def test_allocation_picks_checks_and_keeps() -> None:
    net = ServiceNetwork.parse("10.96.0.0/24", "30000-30009")
    rng = random.Random(1)
    s = obj(SVC.replace("spec:", "spec:\n  type: NodePort")).service.spec
    assert list(allocation.assign(s, None, net, set(), set(), rng)) == []
    assert net.offset_of(s.cluster_ip) is not None and s.cluster_ip != net.dns_ip
    assert 30000 <= s.ports[0].node_port <= 30009
    assert allocation.held(s) == {("serviceips", s.cluster_ip),
                                  ("nodeports", str(s.ports[0].node_port))}
    # what a Service holds already is its own to keep; someone else's is refused
    again = obj(SVC).service.spec
    again.cluster_ip = s.cluster_ip
    assert list(allocation.assign(again, s, net, {s.cluster_ip}, set(), rng)) == []
    errs = allocation.assign(again, None, net, {s.cluster_ip}, set(), rng)
    assert "provided IP is already allocated" in str(errs[0])
    # an update that omits the cluster IP and node port keeps them
    new = obj(SVC.replace("spec:", "spec:\n  type: NodePort")).service.spec
    new.cluster_ip = ""
    del new.cluster_ips[:]
    allocation.patch_allocated(new, s)
    assert new.cluster_ip == s.cluster_ip and new.ports[0].node_port == s.ports[0].node_port
    # the dynamic band fills before the static one is used
    taken = {net.ip_at(i) for i in range(net.ip_static_band, net.size)}
    t = obj(SVC).service.spec
    allocation.assign(t, None, net, taken, set(), rng)
    assert net.offset_of(t.cluster_ip) < net.ip_static_band


def test_network_flags() -> None:
    net = ServiceNetwork.parse()
    assert (net.kubernetes_ip, net.dns_ip) == ("10.96.0.1", "10.96.0.10")
    for cidr, ports in (("10.96.0.0/8", "30000-32767"), ("fd00::/108", "30000-32767"),
                        ("10.96.0.0/12", "32767-30000"), ("x", "1-2")):
        with pytest.raises(NetworkConfigError):
            ServiceNetwork.parse(cidr, ports)
