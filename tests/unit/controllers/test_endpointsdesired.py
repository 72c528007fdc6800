"""What the endpoints controller writes for a Service and its pods (pure)."""

from __future__ import annotations

from controlplane.controllers import endpointsdesired as want
from proto import core_pb2, service_pb2


def svc(target: str | int = "http", publish: bool = False) -> service_pb2.Service:
    s = service_pb2.Service()
    s.metadata.name, s.metadata.namespace = "web", "default"
    s.metadata.labels["team"] = "a"
    s.spec.selector["app"] = "web"
    s.spec.publish_not_ready_addresses = publish
    p = s.spec.ports.add(name="http", port=80, protocol="TCP")
    if isinstance(target, int):
        p.target_port.int_val = target
    else:
        p.target_port.str_val = target
    return s


def pod(name: str, ip: str, *, ready: bool = True, port: int = 8080, terminating: bool = False,
        phase: str = "Running", hostname: str = "", subdomain: str = "") -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace, p.metadata.uid = name, "default", f"uid-{name}"
    p.spec.node_name = "node-1"
    p.spec.hostname, p.spec.subdomain = hostname, subdomain
    p.spec.containers.add(name="c").ports.add(name="http", container_port=port)
    p.status.phase, p.status.pod_ip = phase, ip
    p.status.conditions.add(type="Ready", status="True" if ready else "False")
    if terminating:
        p.metadata.deletion_timestamp.seconds = 1
    return p


def test_conditions_named_ports_and_groups() -> None:
    pods = [pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False),
            pod("c", "10.0.0.3", terminating=True), pod("d", "", phase="Pending"),
            pod("e", "10.0.0.5", phase="Succeeded"), pod("f", "10.0.0.6", port=9090)]
    groups = want.endpoint_groups(svc(), pods)
    assert set(groups) == {(("http", "TCP", 8080),), (("http", "TCP", 9090),)}
    by = {e.target_ref.name: e.conditions for e in groups[(("http", "TCP", 8080),)]}
    assert set(by) == {"a", "b", "c"}
    assert (by["a"].ready, by["a"].serving, by["a"].terminating) == (True, True, False)
    assert (by["b"].ready, by["b"].serving, by["b"].terminating) == (False, False, False)
    assert (by["c"].ready, by["c"].serving, by["c"].terminating) == (False, True, True)
    slices = want.desired_slices(svc(), groups)
    assert [s.ports[0].port for s in slices] == [8080, 9090]
    assert slices[0].metadata.labels["kubernetes.io/service-name"] == "web"
    assert slices[0].metadata.labels["team"] == "a"
    ep = want.desired_endpoints(svc(), groups)
    assert [a.ip for a in ep.subsets[0].addresses] == ["10.0.0.1"]
    assert [a.ip for a in ep.subsets[0].not_ready_addresses] == ["10.0.0.2"]   # c left out


def test_publish_not_ready_hostnames_chunks_and_empty() -> None:
    groups = want.endpoint_groups(svc(8080, publish=True),
                                  [pod("b", "10.0.0.2", ready=False, hostname="b-0",
                                       subdomain="web")])
    (e,) = groups[(("http", "TCP", 8080),)]
    assert e.conditions.ready and e.hostname == "b-0"
    assert not e.conditions.serving          # serving is the pod's Ready, as in Kubernetes
    gone = pod("c", "10.0.0.3", ready=True)
    gone.metadata.deletion_timestamp.seconds = 1
    (t,) = want.endpoint_groups(svc(8080, publish=True), [gone])[(("http", "TCP", 8080),)]
    assert (t.conditions.ready, t.conditions.serving, t.conditions.terminating) == \
        (True, True, True)
    many = [pod(f"p{i:03}", f"10.0.{i // 200}.{i % 200 + 1}") for i in range(250)]
    slices = want.desired_slices(svc(), want.endpoint_groups(svc(), many))
    assert [len(s.endpoints) for s in slices] == [100, 100, 50]
    (empty,) = want.desired_slices(svc(), {})
    assert not empty.endpoints and empty.ports[0].name == "http"
    assert not want.desired_endpoints(svc(), {}).subsets
