"""Services from flags (expose, create service) and their printed columns, as kubectl's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from corral.cli.common import CliError
from corral.cli.portforward import _select, parse_ports
from corral.cli.servicebuild import BuildError, ExposeFlags, created, exposed
from proto import api_pb2, columns
from proto.columns.services import format_endpoints, slice_endpoints, svc_row


def deployment(*ports: int) -> api_pb2.Object:
    o = api_pb2.Object()
    d = o.deployment
    d.metadata.name, d.metadata.namespace = "web", "default"
    d.metadata.labels["app"] = "web"
    d.spec.selector.match_labels["app"] = "web"
    c = d.spec.template.spec.containers.add(name="c", image="demo")
    for p in ports:
        c.ports.add(container_port=p)
    return o


def test_expose_like_kubectl() -> None:
    s = exposed(deployment(8080), ExposeFlags(port="80", target_port="http")).service
    assert (s.metadata.name, dict(s.spec.selector), dict(s.metadata.labels)) == \
        ("web", {"app": "web"}, {"app": "web"})
    assert (s.spec.ports[0].port, s.spec.ports[0].target_port.str_val) == (80, "http")
    s = exposed(deployment(8080, 9090), ExposeFlags(type="NodePort", name="np")).service
    assert [(p.name, p.port, p.target_port.int_val) for p in s.spec.ports] == \
        [("port-1", 8080, 8080), ("port-2", 9090, 9090)]
    assert (s.metadata.name, s.spec.type) == ("np", "NodePort")
    with pytest.raises(BuildError, match="couldn't find port"):
        exposed(deployment(), ExposeFlags())
    d = deployment(80)
    d.deployment.spec.selector.match_expressions.add(key="x", operator="Exists")
    with pytest.raises(BuildError, match="matchExpressions"):
        exposed(d, ExposeFlags())


def test_create_service_like_kubectl() -> None:
    s = created("nodeport", "web", ["80:8080"], node_port=30080).service
    assert s.spec.ports[0].name == "80-8080" and s.spec.ports[0].node_port == 30080
    assert dict(s.spec.selector) == {"app": "web"} and s.spec.type == "NodePort"
    assert created("clusterip", "db", [], cluster_ip="None").service.spec.cluster_ip == "None"
    with pytest.raises(BuildError, match="--tcp"):
        created("clusterip", "x", [])
    assert created("externalname", "e", [], external_name="a.b").service.spec.external_name \
        == "a.b"


def test_columns() -> None:
    s = created("nodeport", "web", ["80:8080", "443:8443"]).service
    s.spec.cluster_ip = "10.96.0.5"
    s.spec.ports[0].node_port = 30080
    o = api_pb2.Object(service=s)
    assert svc_row(o, 0)[1:5] == ["NodePort", "10.96.0.5", "<none>", "80:30080/TCP,443/TCP"]
    assert columns.headers("services", wide=True)[-1] == "SELECTOR"
    ep = api_pb2.Object()
    ss = ep.endpoints.subsets.add()
    for i in range(5):
        ss.addresses.add(ip=f"10.0.0.{i}")
    ss.ports.add(port=8080)
    assert format_endpoints(ep.endpoints) == \
        "10.0.0.0:8080,10.0.0.1:8080,10.0.0.2:8080 + 2 more..."
    assert format_endpoints(api_pb2.Object().endpoints) == "<none>"
    assert slice_endpoints([]) == "<unset>"


def test_port_forward_port_specs() -> None:
    assert parse_ports(["8080:80", "9090", ":http"]) == [(8080, "80"), (9090, "9090"),
                                                          (0, "http")]
    with pytest.raises(CliError):
        parse_ports(["x:80"])


def test_port_forward_targets_every_workload_with_a_selector() -> None:
    sts = api_pb2.Object()
    sts.stateful_set.metadata.name = "web"
    sts.stateful_set.spec.selector.match_labels["app"] = "nginx"
    ds = api_pb2.Object()
    ds.daemon_set.spec.selector.match_expressions.add(key="tier", operator="In",
                                                      values=["a", "b"])
    cm = api_pb2.Object()
    cm.config_map.metadata.name = "c"
    objects = {"statefulsets": sts, "daemonsets": ds, "configmaps": cm}
    cli = SimpleNamespace(namespace="default", client=SimpleNamespace(
        get=lambda resource, name, ns: objects[resource]))
    assert _select(cli, "sts", "web") == ("app=nginx", None)       # type: ignore[arg-type]
    assert _select(cli, "ds", "x") == ("tier in (a,b)", None)      # type: ignore[arg-type]
    with pytest.raises(CliError, match="cannot port-forward to a configmap"):
        _select(cli, "cm", "c")                                    # type: ignore[arg-type]
