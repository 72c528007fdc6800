"""kubectl's generators (`corral create KIND NAME`), the selectors of workloads and the
multi-pod log output, without a server."""

from __future__ import annotations

import io

import pytest

from corral import generators
from corral.cli.multilogs import Options, Output
from corral.cli.podsof import Source, format_selector
from corral.generators import GeneratorError


def test_container_names_as_kubectl_makes_them() -> None:
    assert generators.container_name("nginx") == "nginx"
    assert generators.container_name("registry:5000/team/web_app:v2") == "web-app"
    assert generators.container_name("busybox@sha256:abc") == "busybox"


def test_deployment_from_flags() -> None:
    d = generators.deployment("web", ["demo:v2"], replicas=3, port=8080,
                              command=["httpd", "-f"])
    assert d["metadata"] == {"name": "web", "labels": {"app": "web"}}
    assert d["spec"]["replicas"] == 3
    assert d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert d["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    assert d["spec"]["template"]["spec"]["containers"] == [
        {"name": "demo", "image": "demo:v2", "command": ["httpd", "-f"],
         "ports": [{"containerPort": 8080}]}]


def test_deployment_with_two_images_of_one_name_gets_unique_containers() -> None:
    d = generators.deployment("web", ["a/demo:1", "b/demo:2"])
    names = [c["name"] for c in d["spec"]["template"]["spec"]["containers"]]
    assert names[0] == "demo" and names[1].startswith("demo-") and len(names[1]) == 10


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"images": []}, 'required flag(s) "image" not set'),
    ({"images": ["a", "b"], "command": ["x"]},
     "cannot specify multiple --image options and command"),
    ({"images": ["a"], "replicas": -1}, "--replicas must be 0 or more"),
    ({"images": ["a"], "port": 70000}, "--port must be between 0 and 65535"),
])
def test_deployment_bad_flags(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(GeneratorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        generators.deployment("web", **kwargs)  # type: ignore[arg-type]


def test_job_and_cronjob_as_kubectl_writes_them() -> None:
    j = generators.job("pi", "demo", ["sh", "-c", "echo 3"])
    assert j["apiVersion"] == "batch/v1" and j["kind"] == "Job"
    assert j["spec"]["template"]["spec"] == {
        "containers": [{"name": "pi", "image": "demo", "command": ["sh", "-c", "echo 3"]}],
        "restartPolicy": "Never"}
    c = generators.cronjob("tick", "demo", "*/1 * * * *", ["date"])
    assert c["spec"]["schedule"] == "*/1 * * * *"
    assert c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    with pytest.raises(GeneratorError, match="restart policy must be OnFailure or Never"):
        generators.cronjob("tick", "demo", "* * * * *", restart="Always")
    with pytest.raises(GeneratorError, match='"schedule" not set'):
        generators.cronjob("tick", "demo", "")


def test_job_from_a_cronjob_is_its_template_owned_and_marked_manual() -> None:
    cron = generators.cronjob("tick", "demo", "* * * * *", ["date"])
    cron["metadata"]["uid"] = "u-1"
    cron["spec"]["jobTemplate"]["metadata"]["labels"] = {"team": "a"}
    j = generators.job_from_cronjob("manual-1", cron)
    assert j["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
    assert j["metadata"]["labels"] == {"team": "a"}
    assert j["metadata"]["ownerReferences"] == [{
        "apiVersion": "batch/v1", "kind": "CronJob", "name": "tick", "uid": "u-1",
        "controller": True}]
    assert j["spec"] == cron["spec"]["jobTemplate"]["spec"]
    assert j["spec"] is not cron["spec"]["jobTemplate"]["spec"]


def test_selectors_of_workloads_in_json_form() -> None:
    assert format_selector({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"
    assert format_selector({"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["a", "b"]},
        {"key": "x", "operator": "DoesNotExist"}]}) == "tier in (a,b),!x"
    assert format_selector({"app": "web"}) == "app=web"      # a Service's


def test_output_keeps_lines_whole_and_prefixed() -> None:
    out = io.StringIO()
    o = Output(out, io.StringIO(), Options())
    src = Source("web-1", "web", "uid", 0)
    o.lines(src, [b"one\ntw", b"o\nthr", b"ee"])
    assert out.getvalue() == ("[pod/web-1/web] one\n[pod/web-1/web] two\n"
                              "[pod/web-1/web] three\n")


def test_output_colours_each_pod_on_a_terminal() -> None:
    out = io.StringIO()
    o = Output(out, io.StringIO(), Options(colour=True))
    o.lines(Source("a", "c", "u1", 0), [b"x\n"])
    o.lines(Source("b", "c", "u2", 0), [b"y\n"])
    first, second = out.getvalue().splitlines()
    assert first.startswith("\x1b[31m[pod/a/") and first.endswith("\x1b[0m x")
    assert second.startswith("\x1b[32m[pod/b/")
