"""Server-side apply on the Kubernetes API: field managers, managedFields, conflicts."""

from __future__ import annotations

from typing import Any

import yaml

from tests.integration.kubeapi.conftest import Rest, deployment

APPS = "/apis/apps/v1/namespaces/default/deployments"
APPLY = "application/apply-patch+yaml"


def apply(api: Rest, name: str, config: dict[str, Any], manager: str,
          force: bool = False) -> Any:
    params = {"fieldManager": manager, **({"force": "true"} if force else {})}
    return api("PATCH", f"{APPS}/{name}", yaml.safe_dump(config), content_type=APPLY,
               params=params)


def owners(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e["fieldsV1"]
            for e in obj["metadata"]["managedFields"]}


def test_apply_creates_then_changes_nothing_when_applied_again(api: Rest) -> None:
    config = deployment("ssa-a", replicas=2)
    first = apply(api, "ssa-a", config, "alice")
    assert first.status_code == 200, first.text
    obj = first.json()
    fields = owners(obj)[("alice", "Apply")]
    assert fields["f:spec"]["f:replicas"] == {}
    item = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert "." in item and "f:image" in item
    again = apply(api, "ssa-a", config, "alice").json()
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


def test_a_conflict_is_409_with_its_fields_unless_forced(api: Rest) -> None:
    apply(api, "ssa-b", deployment("ssa-b", replicas=2), "alice")
    r = apply(api, "ssa-b", deployment("ssa-b", replicas=5), "bob")
    assert r.status_code == 409, r.text
    status = r.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "alice" using '
                                 'apps/v1: .spec.replicas')
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                            "field": ".spec.replicas",
                                            "message": 'conflict with "alice" using apps/v1'}]
    assert api.ok("GET", f"{APPS}/ssa-b")["spec"]["replicas"] == 2      # nothing written
    same = apply(api, "ssa-b", deployment("ssa-b", replicas=2), "bob")  # same value: co-own
    assert same.status_code == 200
    forced = apply(api, "ssa-b", deployment("ssa-b", replicas=5), "bob", force=True).json()
    assert forced["spec"]["replicas"] == 5
    by = owners(forced)
    assert "f:replicas" in by[("bob", "Apply")]["f:spec"]
    assert "f:replicas" not in by[("alice", "Apply")]["f:spec"]


def test_a_field_left_out_of_the_configuration_goes_unless_someone_else_owns_it(
        api: Rest) -> None:
    config = deployment("ssa-c")
    config["metadata"]["labels"] = {"keep": "1", "drop": "1", "shared": "1"}
    apply(api, "ssa-c", config, "alice")
    api.ok("PATCH", f"{APPS}/ssa-c", {"metadata": {"labels": {"shared": "2", "mine": "x"}}},
           content_type="application/merge-patch+json", params={"fieldManager": "carol"})
    config["metadata"]["labels"] = {"keep": "1"}
    out = apply(api, "ssa-c", config, "alice").json()
    assert out["metadata"]["labels"] == {"keep": "1", "shared": "2", "mine": "x"}
    assert ("carol", "Update") in owners(out)


def test_apply_needs_a_field_manager_and_a_matching_object(api: Rest) -> None:
    r = api("PATCH", f"{APPS}/ssa-d", yaml.safe_dump(deployment("ssa-d")), content_type=APPLY)
    assert r.status_code == 400 and "fieldManager is required" in r.json()["message"]
    r = apply(api, "ssa-d", deployment("other-name"), "alice")
    assert r.status_code == 400
    assert api("GET", f"{APPS}/ssa-d").status_code == 404
