"""`corral create KIND NAME` (kubectl's generators) against a real control plane."""

from __future__ import annotations

import uuid

import yaml

from corral.client import Client
from proto import kinds
from tests.integration.cli.conftest import Corral
from tests.integration.cli.helpers import unique_ns


def test_create_namespace_as_a_tutorial_starts(corral: Corral, client: Client) -> None:
    name = "demo-" + uuid.uuid4().hex[:6]
    r = corral("create", "namespace", name)
    assert (r.code, r.out) == (0, f"namespace/{name} created\n"), r.err
    assert client.get("namespaces", name).namespace.metadata.name == name
    r = corral("create", "ns", name)
    assert r.code == 1
    assert r.err == f'Error from server (AlreadyExists): namespaces "{name}" already exists\n'


def test_create_deployment_with_kubectls_flags(corral: Corral, client: Client) -> None:
    ns = unique_ns(corral)
    r = corral("create", "deployment", "web", "--image=demo:latest", "--replicas=3",
               "--port=8080", "-n", ns, "--", "httpd", "-f", "-p", "8080")
    assert (r.code, r.out) == (0, "deployment.apps/web created\n"), r.err
    d = client.get("deployments", "web", ns).deployment
    assert d.spec.replicas == 3
    assert dict(d.spec.selector.match_labels) == {"app": "web"}
    assert dict(d.metadata.labels) == {"app": "web"}
    (c,) = d.spec.template.spec.containers
    assert (c.name, c.image, list(c.command)) == ("demo", "demo:latest",
                                                  ["httpd", "-f", "-p", "8080"])
    assert [p.container_port for p in c.ports] == [8080]


def test_dry_run_prints_the_manifest_and_writes_nothing(corral: Corral, client: Client) -> None:
    ns = unique_ns(corral)
    r = corral("create", "deployment", "api", "--image=demo", "--dry-run=client", "-o", "yaml")
    assert r.code == 0, r.err
    doc = yaml.safe_load(r.out)
    assert doc["kind"] == "Deployment" and doc["metadata"]["name"] == "api"
    assert "namespace" not in doc["metadata"]           # as kubectl, without -n
    # what it printed applies as it is
    r = corral("apply", "-n", ns, "-f", "-", stdin=r.out)
    assert (r.code, r.out) == (0, "deployment.apps/api created\n"), r.err

    r = corral("create", "deployment", "other", "--image=demo", "-n", ns,
               "--dry-run=server", "-o", "json")
    assert r.code == 0, r.err
    assert '"name": "other"' in r.out
    r = corral("create", "namespace", "never-" + uuid.uuid4().hex[:6], "--dry-run=server")
    assert r.code == 0 and r.out.endswith("created (server dry run)\n")
    names = {o.deployment.metadata.name for o in client.list("deployments", ns).items}
    assert names == {"api"}


def test_bad_flags_change_nothing(corral: Corral, client: Client) -> None:
    ns = unique_ns(corral)
    for argv, err in (
        (["deployment", "web"], 'error: required flag(s) "image" not set\n'),
        (["deployment", "web", "--image=a", "--image=b", "--", "sh"],
         "error: cannot specify multiple --image options and command\n"),
        (["deployment", "Bad_Name", "--image=demo"], "metadata.name: Invalid value"),
    ):
        r = corral("create", *argv, "-n", ns)
        assert r.code == 1 and err in r.err, r.err
    assert not client.list("deployments", ns).items


def test_create_job_and_cronjob_when_their_kinds_are_served(corral: Corral,
                                                            client: Client) -> None:
    ns = unique_ns(corral)
    r = corral("create", "cronjob", "tick", "--image=demo", "--schedule=*/5 * * * *", "-n", ns,
               "--", "date")
    try:
        kinds.lookup("cronjobs")
    except kinds.UnknownKind:
        assert (r.code, r.err) == (1, "error: the server doesn't have a resource type "
                                      '"cronjobs"\n')
        return
    assert (r.code, r.out) == (0, "cronjob.batch/tick created\n"), r.err
    r = corral("create", "job", "manual-1", "--from=cronjob/tick", "-n", ns)
    assert (r.code, r.out) == (0, "job.batch/manual-1 created\n"), r.err
    job = client.get("jobs", "manual-1", ns)
    meta = kinds.unwrap(job).metadata  # type: ignore[attr-defined]
    assert meta.annotations["cronjob.kubernetes.io/instantiate"] == "manual"
    assert [o.name for o in meta.owner_references] == ["tick"]
    r = corral("create", "job", "pi", "--image=demo", "-n", ns, "--", "echo", "3.14")
    assert (r.code, r.out) == (0, "job.batch/pi created\n"), r.err


def test_create_token_prints_a_token_that_joins(corral: Corral, client: Client) -> None:
    r = corral("create", "token", "--duration", "1h", "--description", "create-token test")
    assert r.code == 0, r.err
    token = r.out.strip()
    token_id, _, secret = token.partition(".")
    assert len(token_id) == 6 and len(secret) == 16
    listed = {t.id: t for t in client.list_tokens()}
    assert listed[token_id].description == "create-token test"
    client.delete_token(token_id)
    before = len(client.list_tokens())
    r = corral("create", "token", "--duration", "0s")
    assert r.code == 1 and "--duration must be positive" in r.err
    assert len(client.list_tokens()) == before
