"""The Kubernetes API's REST semantics against a real control plane process: status codes
and metav1.Status, bad input that writes nothing, identities, patches, paging and the
resourceVersion of reads, delete options, Table answers, subresources, and the documents
kubectl reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.kubeapi.conftest import Rest, as_, deployment, pod

NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"


def status_of(r: Any) -> dict[str, Any]:
    doc = r.json()
    assert doc["kind"] == "Status" and doc["code"] == r.status_code, doc
    return doc


def test_a_request_without_a_client_certificate_is_unauthorized(cp, certs) -> None:
    anonymous = as_(cp, certs, None)
    r = anonymous("GET", NS + "/pods")
    assert r.status_code == 401 and status_of(r)["reason"] == "Unauthorized"
    assert anonymous("GET", "/healthz").text == "ok"
    assert anonymous("GET", "/version").json()["major"] == "1"


def test_discovery(api: Rest) -> None:
    core = api.ok("GET", "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"] and by_name["pods"]["categories"] == ["all"]
    assert by_name["pods/eviction"]["group"] == "policy"
    assert {"pods/log", "pods/exec", "pods/attach", "pods/status", "nodes/status"} <= \
        set(by_name)
    # the control plane reaches pods' ports through their agents: advertised
    assert {"pods/portforward", "pods/proxy"} <= set(by_name)
    assert "deletecollection" not in by_name["namespaces"]["verbs"]
    apps = {r["name"]: r for r in api.ok("GET", "/apis/apps/v1")["resources"]}
    assert apps["deployments/scale"]["kind"] == "Scale"
    groups = {g["name"] for g in api.ok("GET", "/apis")["groups"]}
    assert {"apps", "coordination.k8s.io", "metrics.k8s.io"} <= groups
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    r = api("GET", "/apis", headers={"Accept": accept})
    assert r.headers["Content-Type"] == accept
    apps_group = next(i for i in r.json()["items"] if i["metadata"]["name"] == "apps")
    deploy = next(x for x in apps_group["versions"][0]["resources"]
                  if x["resource"] == "deployments")
    assert {s["subresource"] for s in deploy["subresources"]} == {"status", "scale"}


def test_create_get_conflict_and_errors_as_kubernetes_has_them(api: Rest) -> None:
    created = api.ok("POST", NS + "/pods", pod("p-crud"))
    assert created["metadata"]["uid"] and created["status"] is not None
    r = api("POST", NS + "/pods", pod("p-crud"))
    assert r.status_code == 409 and status_of(r)["reason"] == "AlreadyExists"
    assert r.json()["message"] == 'pods "p-crud" already exists'
    r = api("GET", NS + "/pods/nope")
    assert r.status_code == 404 and r.json()["message"] == 'pods "nope" not found'
    assert r.json()["details"] == {"name": "nope", "kind": "pods"}
    stale = dict(created, metadata={**created["metadata"], "labels": {"a": "b"}})
    api.ok("PUT", NS + "/pods/p-crud", stale)
    r = api("PUT", NS + "/pods/p-crud", stale)            # the same resourceVersion again
    assert r.status_code == 409 and status_of(r)["reason"] == "Conflict"
    bad = deployment("d-invalid", replicas=-1)
    r = api("POST", APPS + "/deployments", bad)
    assert r.status_code == 422 and status_of(r)["reason"] == "Invalid"
    assert [c["field"] for c in r.json()["details"]["causes"]] == ["spec.replicas"]
    # Invalid names the kind (kubectl prints 'The Deployment "d-invalid" is invalid: ...')
    assert (r.json()["details"]["kind"], r.json()["details"]["group"]) == ("Deployment", "apps")
    assert r.json()["message"].startswith('Deployment.apps "d-invalid" is invalid: '
                                          "spec.replicas: Invalid value")
    assert api("GET", APPS + "/deployments/d-invalid").status_code == 404


def test_bad_bodies_are_refused_and_write_nothing(api: Rest) -> None:
    cases = [
        ("{not json", "application/json", "not valid JSON"),
        (pod("p-bad") | {"kind": "Node"}, "application/json", "do not match"),
        ({**pod("p-bad"), "spec": {"containers": [{"name": "c", "image": "x", "imag": 1}]}},
         "application/json", 'strict decoding error: spec.containers[0].imag: unknown field'),
        ({**pod("p-bad"), "metadata": {"name": "p-bad", "namespace": "other"}},
         "application/json", "does not match the namespace"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: p-bad}\nspec: [", "application/yaml",
         "not valid YAML"),
    ]
    for body, ctype, message in cases:
        r = api("POST", NS + "/pods", body, content_type=ctype)
        assert r.status_code == 400, (message, r.text)
        assert message in status_of(r)["message"]
    r = api("POST", NS + "/pods", b"\xa1", content_type="application/cbor")
    assert r.status_code == 415 and status_of(r)["reason"] == "UnsupportedMediaType"
    assert api("GET", NS + "/pods/p-bad").status_code == 404


def test_identities_meet_the_same_authorization_as_on_grpc(cp, certs, api: Rest) -> None:
    api.ok("POST", NS + "/pods", pod("p-node2"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p-node2"},
               "target": {"kind": "Node", "name": "node-2"}}
    r = api("POST", NS + "/pods/p-node2/binding", binding)
    assert r.status_code == 201, r.text
    node1 = as_(cp, certs, "node-1")
    current = api.ok("GET", NS + "/pods/p-node2")
    current["status"]["phase"] = "Running"
    r = node1("PUT", NS + "/pods/p-node2/status", current)
    assert r.status_code == 403 and status_of(r)["reason"] == "Forbidden"
    assert 'node "node-1"' in r.json()["message"]
    assert node1("GET", NS + "/pods").status_code == 403            # only its own pods
    assert node1("GET", NS + "/pods", params={"fieldSelector": "spec.nodeName=node-1"}) \
        .status_code == 200
    assert api.ok("GET", NS + "/pods/p-node2")["status"].get("phase") != "Running"
    r = as_(cp, certs, "nobody")("GET", NS + "/pods")
    assert r.status_code == 403 and 'user "jane"' in r.json()["message"]
    # a pod's ports (pods/proxy, like exec and port-forward): admins only
    proxy = NS + "/pods/p-node2:8080/proxy/x"
    assert as_(cp, certs, None)("GET", proxy).status_code == 401
    for who in ("node-1", "nobody"):
        r = as_(cp, certs, who)("GET", proxy)
        assert r.status_code == 403 and status_of(r)["reason"] == "Forbidden", (who, r.text)


def test_patches_of_every_kind(api: Rest) -> None:
    api.ok("POST", APPS + "/deployments", deployment("d-patch"))
    path = APPS + "/deployments/d-patch"
    out = api.ok("PATCH", path, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "B", "value": "2"}]}]}}}},
        content_type="application/strategic-merge-patch+json")
    c = out["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "demo" and [e["name"] for e in c["env"]] == ["B", "A"]
    out = api.ok("PATCH", path, {"metadata": {"labels": {"x": "1"}}},
                 content_type="application/merge-patch+json")
    assert out["metadata"]["labels"] == {"x": "1"}
    out = api.ok("PATCH", path, [{"op": "replace", "path": "/spec/replicas", "value": 4}],
                 content_type="application/json-patch+json")
    assert out["spec"]["replicas"] == 4
    rv = out["metadata"]["resourceVersion"]
    same = api.ok("PATCH", path, {"spec": {"replicas": 4}},
                  content_type="application/merge-patch+json")
    assert same["metadata"]["resourceVersion"] == rv          # nothing changed, nothing written
    r = api("PATCH", path, [{"op": "test", "path": "/spec/replicas", "value": 9}],
            content_type="application/json-patch+json")
    assert r.status_code == 400 and "test failed" in r.json()["message"]
    r = api("PATCH", path, {"spec": {"replicas": 1}}, content_type="text/plain")
    assert r.status_code == 415
    r = api("PATCH", path, {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 2}},
            content_type="application/merge-patch+json")
    assert r.status_code == 409
    assert api.ok("GET", path)["spec"]["replicas"] == 4


def test_scale_and_status_subresources(api: Rest) -> None:
    api.ok("POST", APPS + "/deployments", deployment("d-scale", replicas=2))
    scale = api.ok("GET", APPS + "/deployments/d-scale/scale")
    assert (scale["kind"], scale["spec"]["replicas"]) == ("Scale", 2)
    assert scale["status"]["selector"] == "app=d-scale"
    scale["spec"]["replicas"] = 5
    assert api.ok("PUT", APPS + "/deployments/d-scale/scale", scale)["spec"]["replicas"] == 5
    api.ok("PATCH", APPS + "/deployments/d-scale/scale", {"spec": {"replicas": 3}},
           content_type="application/merge-patch+json")
    d = api.ok("GET", APPS + "/deployments/d-scale")
    assert d["spec"]["replicas"] == 3
    d["status"] = {"replicas": 7}
    assert api.ok("PUT", APPS + "/deployments/d-scale", d)["status"].get("replicas") != 7
    d = api.ok("GET", APPS + "/deployments/d-scale")
    d["status"] = {"replicas": 7, "observedGeneration": 1}
    assert api.ok("PUT", APPS + "/deployments/d-scale/status", d)["status"]["replicas"] == 7


def test_list_pages_selectors_and_deletecollection(api: Rest) -> None:
    for i in range(5):
        api.ok("POST", NS + "/pods", pod(f"p-page-{i}", {"batch": "page", "i": str(i)}))
    seen, token, pages = [], "", 0
    while True:
        params = {"labelSelector": "batch=page", "limit": "2"}
        if token:
            params["continue"] = token
        lst = api.ok("GET", NS + "/pods", params=params)
        seen += [i["metadata"]["name"] for i in lst["items"]]
        pages += 1
        token = lst["metadata"].get("continue", "")
        if not token:
            break
    assert (seen, pages) == ([f"p-page-{i}" for i in range(5)], 3)
    one = api.ok("GET", NS + "/pods", params={"fieldSelector": "metadata.name=p-page-3"})
    assert [i["metadata"]["name"] for i in one["items"]] == ["p-page-3"]
    r = api("GET", NS + "/pods", params={"continue": "garbage!"})
    assert r.status_code == 400
    gone = api.ok("DELETE", NS + "/pods", params={"labelSelector": "batch=page,i in (0,1)"})
    assert len(gone["items"]) == 2
    left = api.ok("GET", NS + "/pods", params={"labelSelector": "batch=page"})
    assert len(left["items"]) == 3


def _names(lst: dict[str, Any]) -> list[str]:
    return [i["metadata"]["name"] for i in lst["items"]]


def test_resource_versions_of_reads_and_consistent_pages(api: Rest, cp) -> None:
    sel = {"labelSelector": "batch=rv"}
    for name in ("rv-a", "rv-b", "rv-c"):
        api.ok("POST", NS + "/pods", pod(name, {"batch": "rv"}))
    first = api.ok("GET", NS + "/pods", params={**sel, "limit": "2"})
    then = first["metadata"]["resourceVersion"]
    api.ok("POST", NS + "/pods", pod("rv-d", {"batch": "rv"}))
    api.ok("DELETE", NS + "/pods/rv-a", {"gracePeriodSeconds": 0})
    # the next page is read at the first page's revision: no rv-d, and rv-a was there
    rest = api.ok("GET", NS + "/pods", params={**sel, "continue": first["metadata"]["continue"]})
    assert _names(first) + _names(rest) == ["rv-a", "rv-b", "rv-c"]
    assert rest["metadata"]["resourceVersion"] == then
    exact = api.ok("GET", NS + "/pods", params={**sel, "resourceVersion": then,
                                                "resourceVersionMatch": "Exact"})
    assert (_names(exact), exact["metadata"]["resourceVersion"]) == \
        (["rv-a", "rv-b", "rv-c"], then)
    latest = api.ok("GET", NS + "/pods", params={**sel, "resourceVersion": then,
                                                 "resourceVersionMatch": "NotOlderThan"})
    assert _names(latest) == ["rv-b", "rv-c", "rv-d"]
    assert _names(api.ok("GET", NS + "/pods", params={**sel, "resourceVersion": "0"})) == \
        ["rv-b", "rv-c", "rv-d"]
    assert api.ok("GET", NS + "/pods/rv-b", params={"resourceVersion": then})
    # a version the store never reached, and option pairs Kubernetes refuses
    future = str(int(latest["metadata"]["resourceVersion"]) + 1000)
    for path in (NS + "/pods", NS + "/pods/rv-b"):
        r = api("GET", path, params={"resourceVersion": future})
        assert r.status_code == 410 and "Too large resource version" in r.json()["message"]
    for params, field in (({"resourceVersionMatch": "Exact"}, "resourceVersionMatch"),
                          ({"resourceVersion": "0", "resourceVersionMatch": "Exact"},
                           "resourceVersionMatch"),
                          ({"resourceVersion": then, "resourceVersionMatch": "Newest"},
                           "resourceVersionMatch"),
                          ({"resourceVersion": "x"}, "resourceVersion"),
                          ({"resourceVersion": then, "continue": first["metadata"]["continue"]},
                           "continue")):
        r = api("GET", NS + "/pods", params=params)
        assert r.status_code == 422, (params, r.text)
        assert status_of(r)["details"]["causes"][0]["field"] == field
    # once etcd compacted that revision, the old page token and Exact answer 410
    etcdctl = Path(sys.executable).parent / "etcdctl"
    subprocess.run([str(etcdctl), "--endpoints", f"127.0.0.1:{cp.etcd_ports[0]}", "compact",
                    latest["metadata"]["resourceVersion"]], check=True, capture_output=True)
    r = api("GET", NS + "/pods", params={**sel, "continue": first["metadata"]["continue"]})
    assert r.status_code == 410 and status_of(r)["reason"] == "Expired"
    assert "continue parameter is too old" in r.json()["message"]
    r = api("GET", NS + "/pods", params={"resourceVersion": then,
                                         "resourceVersionMatch": "Exact"})
    assert r.status_code == 410


def test_delete_options(api: Rest) -> None:
    created = api.ok("POST", NS + "/pods", pod("p-del"))
    r = api("DELETE", NS + "/pods/p-del", {"kind": "DeleteOptions", "apiVersion": "v1",
                                             "preconditions": {"uid": "not-it"}})
    assert r.status_code == 409 and "Precondition failed" in r.json()["message"]
    api.ok("DELETE", NS + "/pods/p-del", {"dryRun": ["All"]})
    assert api.ok("GET", NS + "/pods/p-del")["metadata"]["uid"] == created["metadata"]["uid"]
    api.ok("DELETE", NS + "/pods/p-del",
           {"preconditions": {"uid": created["metadata"]["uid"]}, "gracePeriodSeconds": 0})
    assert api("GET", NS + "/pods/p-del").status_code == 404


def test_table_answers_have_corrals_columns(api: Rest) -> None:
    api.ok("POST", NS + "/pods", pod("p-table"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    t = api.ok("GET", NS + "/pods", headers={"Accept": accept})
    assert t["kind"] == "Table"
    cols = [(c["name"], c["priority"]) for c in t["columnDefinitions"]]
    assert cols[:5] == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0)]
    assert ("Node", 1) in cols
    row = next(r for r in t["rows"] if r["cells"][0] == "p-table")
    assert row["cells"][1:4] == ["0/1", "Pending", "0"]
    assert row["object"]["kind"] == "PartialObjectMetadata"


def test_json_has_the_fields_kubernetes_always_writes(api: Rest) -> None:
    api.ok("POST", NS + "/pods", pod("p-json"))
    current = api.ok("GET", NS + "/pods/p-json")
    current["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled",
                                                             "status": "False"}],
                         "containerStatuses": [{"name": "c", "image": "demo"}]}
    api.ok("PUT", NS + "/pods/p-json/status", current)
    doc = api.ok("GET", NS + "/pods/p-json")
    cs = doc["status"]["containerStatuses"][0]
    assert (cs["restartCount"], cs["ready"], cs["imageID"]) == (0, False, "")
    assert doc["status"]["conditions"][0]["lastProbeTime"] is None
    assert doc["spec"]["containers"][0]["resources"] == {}


def test_openapi_documents(api: Rest) -> None:
    index = api.ok("GET", "/openapi/v3")["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1"} <= set(index)
    doc = api.ok("GET", index["apis/apps/v1"]["serverRelativeURL"])
    schemas = doc["components"]["schemas"]
    assert schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    v2 = api.ok("GET", "/openapi/v2")
    assert "io.k8s.api.core.v1.Pod" in v2["definitions"]
