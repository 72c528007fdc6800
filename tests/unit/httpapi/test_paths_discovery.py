"""The Kubernetes API's paths, discovery and Status, without a server: generic over the
kind table, with Kubernetes' wording."""

from __future__ import annotations

import pytest

from controlplane import errors
from controlplane.apiserver.fieldmanager.apply import ApplyConflict
from controlplane.httpapi import discovery, paths, status
from proto import kinds


@pytest.mark.parametrize(("path", "want"), [
    ("/api/v1/pods", ("pods", "", "", "", False)),
    ("/api/v1/namespaces/web/pods", ("pods", "web", "", "", False)),
    ("/api/v1/namespaces/web/pods/x/log", ("pods", "web", "x", "log", False)),
    ("/api/v1/namespaces/web", ("namespaces", "", "web", "", False)),
    ("/api/v1/namespaces/web/status", ("namespaces", "", "web", "status", False)),
    ("/api/v1/nodes/n1/status", ("nodes", "", "n1", "status", False)),
    ("/apis/apps/v1/namespaces/d/deployments/web/scale", ("deployments", "d", "web", "scale",
                                                          False)),
    ("/api/v1/watch/namespaces/web/pods", ("pods", "web", "", "", True)),
    ("/apis/coordination.k8s.io/v1/namespaces/x/leases/l", ("leases", "x", "l", "", False)),
    ("/api/v1/namespaces/web/pods/x:8080/proxy/a/b", ("pods", "web", "x:8080", "proxy", False)),
])
def test_paths_name_their_targets(path: str, want: tuple) -> None:
    t = paths.parse(path)
    assert isinstance(t, paths.Target)
    assert (t.resource, t.namespace, t.name, t.subresource, t.watch) == want


@pytest.mark.parametrize("path", [
    "/api/v2/pods", "/apis/apps/v2/deployments", "/api/v1/replicationcontrollers",
    "/api/v1/namespaces/web/nodes", "/apis/apps/v1/namespaces/web/deployments/x/proxy/a",
    "/api/v1/nodes/n1/log", "/apis/apps/v1/namespaces/d/pods", "/healthz",
    "/api/v1/namespaces/a/pods/b/c/d",
])
def test_paths_not_served(path: str) -> None:
    assert not isinstance(paths.parse(path), paths.Target)


def test_group_versions_come_from_the_kind_table() -> None:
    gvs = {gv.api_version for gv in paths.group_versions()}
    assert gvs == {k.api_version for k in kinds.KINDS}
    assert isinstance(paths.parse("/apis/apps/v1"), paths.GroupVersion)


def test_every_kind_is_discovered_with_its_subresources() -> None:
    for gv in paths.group_versions():
        listed = {r["name"]: r for r in discovery.resource_list(gv)["resources"]}
        for k in paths.kinds_of(gv):
            assert listed[k.resource]["kind"] == k.kind
            assert listed[k.resource]["namespaced"] == k.namespaced
            assert listed[k.resource]["shortNames" if k.short_names else "name"]
            for sub in paths.subresources(k):
                assert f"{k.resource}/{sub}" in listed
    assert paths.scalable(kinds.lookup("deployments"))
    assert not paths.scalable(kinds.lookup("pods"))


def test_aggregated_discovery_nests_subresources() -> None:
    core = discovery.aggregated(core=True)["items"]
    assert [i["metadata"]["name"] for i in core] == [""]
    pods = next(r for r in core[0]["versions"][0]["resources"] if r["resource"] == "pods")
    assert {s["subresource"] for s in pods["subresources"]} == \
        {"status", "log", "exec", "attach", "portforward", "proxy", "eviction", "binding"}
    hidden = discovery.aggregated(core=True, hidden=paths.DIALED)["items"][0]
    pods_hidden = next(r for r in hidden["versions"][0]["resources"] if r["resource"] == "pods")
    assert {s["subresource"] for s in pods_hidden["subresources"]} == \
        {"status", "log", "exec", "attach", "eviction", "binding"}
    eviction = next(s for s in pods["subresources"] if s["subresource"] == "eviction")
    assert eviction["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}


@pytest.mark.parametrize(("error", "code", "reason"), [
    (errors.NotFound("x not found"), 404, "NotFound"),
    (errors.AlreadyExists("x"), 409, "AlreadyExists"),
    (errors.Conflict("x"), 409, "Conflict"),
    (errors.Invalid("Pod x", [errors.FieldError("spec.x", "Required value")]), 422, "Invalid"),
    (errors.BadRequest("x"), 400, "BadRequest"),
    (errors.Gone("too old"), 410, "Expired"),
    (errors.Forbidden("no"), 403, "Forbidden"),
    (errors.Unauthenticated("Unauthorized"), 401, "Unauthorized"),
    (errors.Unavailable("etcd"), 503, "ServiceUnavailable"),
    (status.MethodNotAllowed("x"), 405, "MethodNotAllowed"),
    (status.UnsupportedMediaType("x"), 415, "UnsupportedMediaType"),
    (RuntimeError("boom"), 500, "InternalError"),
])
def test_errors_become_statuses(error: Exception, code: int, reason: str) -> None:
    got, doc = status.status_of(error, status.Subject("pods", "", "x"))
    assert (got, doc["code"], doc["reason"], doc["kind"], doc["status"]) == \
        (code, code, reason, "Status", "Failure")


def test_status_details_as_kubectl_reads_them() -> None:
    _, doc = status.status_of(errors.NotFound('Pod "default/x" not found'),
                              status.Subject("deployments", "apps", "x"))
    assert doc["message"] == 'deployments.apps "x" not found'
    assert doc["details"] == {"name": "x", "group": "apps", "kind": "deployments"}
    _, doc = status.status_of(errors.Invalid("Pod x", [
        errors.FieldError("spec.containers[0].image", "Required value")]))
    assert doc["details"]["causes"] == [{"reason": "FieldValueRequired",
                                         "message": "Required value",
                                         "field": "spec.containers[0].image"}]
    _, doc = status.status_of(ApplyConflict([("kubectl", "apps/v1", ".spec.replicas")]))
    assert doc["details"]["causes"][0]["reason"] == "FieldManagerConflict"
