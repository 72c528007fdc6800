"""`corral expose`, `create service`, `get svc,ep,endpointslices` and `describe svc`
against a real control plane (kubectl's columns and messages)."""

from __future__ import annotations

import ipaddress

from tests.integration.cli.conftest import Corral
from tests.integration.cli.helpers import MANIFESTS, unique_ns


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def test_expose_create_get_describe(corral: Corral) -> None:
    ns = unique_ns(corral)
    assert corral("apply", "-f", str(MANIFESTS / "web-deployment.yaml"), "-n", ns).code == 0

    r = corral("expose", "deploy/web", "--port", "80", "--target-port", "http", "-n", ns)
    assert (r.code, r.out) == (0, "service/web exposed\n"), r.err
    r = corral("get", "svc", "web", "-n", ns, "-o", "wide")
    head, row = rows(r.out)
    assert head == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert row[:2] == ["web", "ClusterIP"]
    assert ipaddress.ip_address(row[2]) in ipaddress.ip_network("10.96.0.0/12")
    assert row[3:5] == ["<none>", "80/TCP"] and row[6] == "app=web"

    r = corral("create", "service", "nodeport", "np", "--tcp", "80:8080",
               "--node-port", "30222", "-n", ns)
    assert (r.code, r.out) == (0, "service/np created\n"), r.err
    assert rows(corral("get", "svc", "np", "-n", ns).out)[1][4] == "80:30222/TCP"
    # the same node port again: refused with the field, nothing created
    r = corral("create", "service", "nodeport", "np2", "--tcp", "80:8080",
               "--node-port", "30222", "-n", ns)
    assert r.code == 1
    assert "spec.ports[0].nodePort" in r.err and "already allocated" in r.err
    assert corral("get", "svc", "np2", "-n", ns).code == 1

    r = corral("create", "service", "clusterip", "db", "--clusterip", "None", "-n", ns)
    assert r.code == 0, r.err
    assert rows(corral("get", "svc", "db", "-n", ns).out)[1][2] == "None"

    r = corral("get", "ep,endpointslices", "-n", ns)
    assert r.code == 0, r.err
    assert "ENDPOINTS" in r.out and "ADDRESSTYPE" in r.out

    r = corral("describe", "svc", "web", "-n", ns)
    assert r.code == 0, r.err
    for line in ("Selector:", "app=web"), ("TargetPort:", "http/TCP"), ("Type:", "ClusterIP"):
        assert any(ln.split()[:1] == [line[0]] and line[1] in ln
                   for ln in r.out.splitlines()), (line, r.out)

    r = corral("expose", "pod/nope", "--port", "80", "-n", ns)
    assert r.code == 1 and "not found" in r.err


def test_invalid_service_manifest_names_the_field(corral: Corral) -> None:
    ns = unique_ns(corral)
    manifest = """apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {port: 80, nodePort: 40000}
  - {port: 80, name: again}
"""
    r = corral("apply", "-f", "-", "-n", ns, stdin=manifest)
    assert r.code == 1
    assert "spec.ports[0].name: Required value" in r.err
    assert "spec.ports[1]: Duplicate value" in r.err
    assert corral("get", "svc", "bad", "-n", ns).code == 1
    r = corral("apply", "-f", "-", "-n", ns, stdin=manifest.replace(
        "  - {port: 80, name: again}\n", ""))
    assert r.code == 1 and "spec.ports[0].nodePort" in r.err and "30000-32767" in r.err
    r = corral("apply", "-f", "-", "-n", ns, stdin=manifest.replace("type: NodePort",
                                                                     "type: LoadBalancer"))
    assert r.code == 1 and "spec.type" in r.err and "LoadBalancer" in r.err
