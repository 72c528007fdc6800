"""`corral patch` (strategic, merge, json) and `create --save-config` then `apply` against
a real control plane."""

from __future__ import annotations

import json
from pathlib import Path

from corral.client import Client
from tests.integration.cli.conftest import Corral
from tests.integration.cli.helpers import MANIFESTS, unique_ns


def web(corral: Corral) -> str:
    ns = unique_ns(corral)
    r = corral("apply", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml"))
    assert r.code == 0, r.err
    return ns


def test_patch_types(corral: Corral, client: Client) -> None:
    ns = web(corral)

    def deploy() -> object:
        return client.get("deployments", "web", ns).deployment

    r = corral("patch", "deploy", "web", "-n", ns, "-p", '{"spec":{"replicas":2}}')
    assert (r.code, r.out) == (0, "deployment.apps/web patched\n"), r.err
    assert deploy().spec.replicas == 2  # type: ignore[attr-defined]
    r = corral("patch", "deploy", "web", "-n", ns, "-p", '{"spec":{"replicas":2}}')
    assert r.out == "deployment.apps/web patched (no change)\n"

    # strategic: containers merge by name (the web container keeps its ports and probes)
    r = corral("patch", "deploy/web", "-n", ns, "-p",
               "spec: {template: {spec: {containers: [{name: web, image: 'demo:v2'}]}}}")
    assert r.code == 0, r.err
    (c,) = deploy().spec.template.spec.containers  # type: ignore[attr-defined]
    assert (c.image, [p.container_port for p in c.ports]) == ("demo:v2", [8080])
    assert c.HasField("readiness_probe")

    # merge: null removes a key
    r = corral("patch", "deploy", "web", "-n", ns, "--type", "merge", "-p",
               '{"metadata":{"labels":{"app":null,"tier":"front"}}}')
    assert r.code == 0, r.err
    assert dict(deploy().metadata.labels) == {"tier": "front"}  # type: ignore[attr-defined]

    # json: operations by path
    r = corral("patch", "deploy", "web", "-n", ns, "--type", "json", "-p",
               '[{"op":"replace","path":"/spec/replicas","value":4},'
               '{"op":"add","path":"/metadata/annotations/owner","value":"me"}]')
    assert r.code == 0, r.err
    d = deploy()
    assert d.spec.replicas == 4 and d.metadata.annotations["owner"] == "me"  # type: ignore

    # dry runs write nothing
    rv = d.metadata.resource_version  # type: ignore[attr-defined]
    r = corral("patch", "deploy", "web", "-n", ns, "-p", '{"spec":{"replicas":9}}',
               "--dry-run=client", "-o", "jsonpath={.spec.replicas}")
    assert (r.code, r.out) == (0, "9"), r.err
    r = corral("patch", "deploy", "web", "-n", ns, "-p", '{"spec":{"replicas":9}}',
               "--dry-run=server")
    assert r.out == "deployment.apps/web patched (server dry run)\n", r.err
    assert deploy().metadata.resource_version == rv  # type: ignore[attr-defined]


def test_patch_bad_input_changes_nothing(corral: Corral, client: Client, tmp_path: Path) -> None:
    ns = web(corral)
    rv = client.get("deployments", "web", ns).deployment.metadata.resource_version
    for argv, err in (
        (["-p", "{bad"], 'error: unable to parse "{bad": yaml: line 1:'),
        (["-p", "[1]"], "a strategic patch is an object"),
        (["--type", "json", "-p", "{}"], "a JSON patch is a list of operations"),
        (["--type", "foo", "-p", "{}"], 'error: --type must be one of [json merge strategic]'),
        (["-p", '{"spec":{"replicaz":1}}'], 'unknown field "replicaz"'),
        (["-p", '{"spec":{"replicas":-1}}'], "spec.replicas: Invalid value: -1"),
        (["--type", "json", "-p", '[{"op":"remove","path":"/spec/nothing"}]'],
         "Error from server (Invalid)"),
        ([], "must specify --patch or --patch-file"),
    ):
        r = corral("patch", "deploy", "web", "-n", ns, *argv)
        assert r.code == 1 and err in r.err, (argv, r.err)
    r = corral("patch", "deploy", "nope", "-n", ns, "-p", "{}")
    assert r.err == 'Error from server (NotFound): deployments.apps "nope" not found\n'
    r = corral("patch", "widgets", "x", "-p", "{}")
    assert r.code == 1 and 'resource type "widgets"' in r.err
    assert client.get("deployments", "web", ns).deployment.metadata.resource_version == rv

    f = tmp_path / "p.yaml"
    f.write_text("spec:\n  replicas: 1\n")
    r = corral("patch", "-n", ns, "-f", str(MANIFESTS / "web-deployment.yaml"),
               "--patch-file", str(f))
    assert (r.code, r.out) == (0, "deployment.apps/web patched\n"), r.err


def test_create_save_config_then_diff_and_apply(corral: Corral, client: Client,
                                                tmp_path: Path) -> None:
    ns = unique_ns(corral)
    r = corral("create", "deployment", "api", "--image=demo", "--replicas=2", "-n", ns,
               "--save-config")
    assert r.code == 0, r.err
    saved = json.loads(client.get("deployments", "api", ns).deployment.metadata.annotations[
        "kubectl.kubernetes.io/last-applied-configuration"])
    assert saved["spec"]["replicas"] == 2 and saved["metadata"]["name"] == "api"
    r = corral("scale", "deploy/api", "--replicas", "5", "-n", ns)
    assert r.code == 0, r.err
    doc = corral("create", "deployment", "api", "--image=demo:v2", "--replicas=2",
                 "--dry-run=client", "-o", "yaml").out
    f = tmp_path / "api.yaml"
    f.write_text(doc)
    r = corral("diff", "-n", ns, "-f", str(f))
    assert r.code == 1, r.err
    lines = r.out.splitlines()
    assert "-  replicas: 5" in lines and "+  replicas: 2" in lines      # as apply would
    assert "-        image: demo" in lines and "+        image: demo:v2" in lines
    assert client.get("deployments", "api", ns).deployment.spec.replicas == 5
    r = corral("apply", "-n", ns, "-f", str(f))
    assert (r.code, r.out) == (0, "deployment.apps/api configured\n"), r.err
    d = client.get("deployments", "api", ns).deployment
    assert (d.spec.replicas, d.spec.template.spec.containers[0].image) == (2, "demo:v2")
    r = corral("diff", "-n", ns, "-f", str(f))
    assert (r.code, r.out) == (0, ""), r.err
