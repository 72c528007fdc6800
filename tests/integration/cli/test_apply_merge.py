"""`corral apply` against a real control plane: kubectl's three-way merge, and server-side
apply with field managers."""

from __future__ import annotations

import yaml

from tests.integration.cli.conftest import Corral
from tests.integration.cli.helpers import MANIFESTS, unique_ns


def test_apply_is_a_merge_and_server_side_apply_owns_fields(corral: Corral) -> None:
    ns = unique_ns(corral)
    web = (MANIFESTS / "web-deployment.yaml").read_text()
    no_replicas = web.replace("  replicas: 3\n", "")
    assert corral("apply", "-n", ns, "-f", "-", stdin=no_replicas).code == 0
    assert corral("scale", "deploy/web", "-n", ns, "--replicas", "5").code == 0
    labelled = no_replicas.replace("    app: web\nspec:", "    app: web\n    tier: front\nspec:")
    r = corral("apply", "-n", ns, "-f", "-", stdin=labelled)
    assert r.out == "deployment.apps/web configured\n", r.err
    d = yaml.safe_load(corral("get", "deploy", "web", "-n", ns, "-o", "yaml").out)
    assert d["spec"]["replicas"] == 5                    # set by scale, not in the file
    assert d["metadata"]["labels"] == {"app": "web", "tier": "front"}
    r = corral("apply", "-n", ns, "-f", "-", stdin=no_replicas)
    assert yaml.safe_load(corral("get", "deploy", "web", "-n", ns, "-o", "yaml").out)[
        "metadata"]["labels"] == {"app": "web"}         # only the last file had it

    config = web.replace("name: web", "name: ssa", 1)
    r = corral("apply", "--server-side", "-n", ns, "-f", "-", stdin=config)
    assert r.out == "deployment.apps/ssa serverside-applied\n", r.err
    other = config.replace("replicas: 3", "replicas: 4")
    r = corral("apply", "--server-side", "--field-manager", "other", "-n", ns, "-f", "-",
               stdin=other)
    assert r.code == 1 and 'conflict with "corral"' in r.err and ".spec.replicas" in r.err
    r = corral("apply", "--server-side", "--field-manager", "other", "--force-conflicts",
               "-n", ns, "-f", "-", stdin=other)
    assert r.code == 0, r.err
    d = yaml.safe_load(corral("get", "deploy", "ssa", "-n", ns, "-o", "yaml").out)
    assert d["spec"]["replicas"] == 4
    assert {(e["manager"], e["operation"]) for e in d["metadata"]["managedFields"]} == \
        {("corral", "Apply"), ("other", "Apply")}
