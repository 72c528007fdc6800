"""`corral run`: the Pod it builds (kubectl run's), its flags' rules, and dry runs."""

from __future__ import annotations

import pytest
import yaml

from corral.cli.run import manifest
from proto import kinds
from tests.unit.cli.conftest import Runner


def test_manifest_defaults_like_kubectl_run() -> None:
    doc = manifest("web", "nginx", "default")
    assert doc == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"run": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}], "restartPolicy": "Always"}}


def test_manifest_interactive_with_args_env_port_and_labels() -> None:
    doc = manifest("shell", "busybox", "dev", restart="Never", stdin=True, tty=True,
                   stdin_once=True, env={"A": "1"}, labels={"app": "x"}, port=8080,
                   args=["sh", "-c", "echo hi"])
    (c,) = doc["spec"]["containers"]
    assert doc["metadata"]["labels"] == {"app": "x"}          # --labels replaces run=NAME
    assert doc["spec"]["restartPolicy"] == "Never"
    assert c["args"] == ["sh", "-c", "echo hi"] and "command" not in c
    assert (c["stdin"], c["stdinOnce"], c["tty"]) == (True, True, True)
    assert c["env"] == [{"name": "A", "value": "1"}]
    assert c["ports"] == [{"containerPort": 8080}]
    assert manifest("x", "i", "d", command=True, args=["sleep", "9"])[
        "spec"]["containers"][0]["command"] == ["sleep", "9"]


def test_run_creates_the_pod_and_says_so(corral: Runner) -> None:
    r = corral("run", "web", "--image=demo", "--env", "K=V", "--port", "80")
    assert (r.code, r.out, r.err) == (0, "pod/web created\n", "")
    pod = kinds.unwrap(corral.api.objects[("pods", "default", "web")])
    assert dict(pod.metadata.labels) == {"run": "web"}
    assert pod.spec.restart_policy == "Always"
    (c,) = pod.spec.containers
    assert (c.name, c.image, c.stdin, c.tty) == ("web", "demo", False, False)
    assert [(e.name, e.value) for e in c.env] == [("K", "V")]
    assert [p.container_port for p in c.ports] == [80]


def test_arguments_after_the_double_dash_are_the_containers(corral: Runner) -> None:
    r = corral("run", "job", "--image=busybox", "--restart=Never", "--", "sh", "-c",
               "echo -n hi", "--image=not-a-flag")
    assert r.code == 0, r.err
    pod = kinds.unwrap(corral.api.objects[("pods", "default", "job")])
    assert list(pod.spec.containers[0].args) == ["sh", "-c", "echo -n hi", "--image=not-a-flag"]
    assert pod.spec.restart_policy == "Never"


def test_client_dry_run_prints_the_manifest_and_creates_nothing(corral: Runner) -> None:
    r = corral("run", "-i", "-t", "--rm", "shell", "--image=demo", "--dry-run=client",
               "-o", "yaml", "--", "sh")
    assert r.code == 0, r.err
    doc = yaml.safe_load(r.out)
    assert (doc["kind"], doc["metadata"]["name"]) == ("Pod", "shell")
    c = doc["spec"]["containers"][0]
    assert (c["stdin"], c["stdinOnce"], c["tty"], c["args"]) == (True, True, True, ["sh"])
    assert ("pods", "default", "shell") not in corral.api.objects
    r = corral("run", "-i", "--leave-stdin-open", "x", "--image=demo", "--dry-run=client",
               "-o", "yaml")
    assert "stdinOnce" not in yaml.safe_load(r.out)["spec"]["containers"][0]


@pytest.mark.parametrize("argv,message", [
    (["-t"], "-i/--stdin is required for containers with -t/--tty=true"),
    (["--rm"], "--rm should only be used for attached containers"),
    (["--env", "NOVALUE"], "invalid --env 'NOVALUE': expected KEY=VALUE"),
    (["--labels", "a=1,b"], "invalid label 'b'"),
])
def test_bad_flags_are_refused_and_create_nothing(corral: Runner, argv: list[str],
                                                  message: str) -> None:
    r = corral("run", "web", "--image=demo", *argv)
    assert r.code == 1 and message in r.err
    assert ("pods", "default", "web") not in corral.api.objects
