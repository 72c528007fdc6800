from __future__ import annotations

import pytest

from corral.printers.jsonpath import JSONPathError, Template, render

DATA = {
    "kind": "List",
    "items": [
        {"metadata": {"name": "a", "labels": {"app": "web"}},
         "status": {"podIP": "10.0.0.1", "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"},
                                   {"type": "Initialized", "status": "True"}]},
         "spec": {"containers": [{"name": "x", "image": "nginx"}, {"name": "y", "image": "redis"}],
                  "replicas": 3}},
        {"metadata": {"name": "b"},
         "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]},
         "spec": {"containers": [{"name": "z", "image": "busybox"}], "replicas": 1}},
    ],
}


@pytest.mark.parametrize(("template", "out"), [
    ("{.kind}", "List"),
    ("{.items[*].metadata.name}", "a b"),
    ("{.items[0].status.podIP}", "10.0.0.1"),
    ("{.items[-1].metadata.name}", "b"),
    ("{.items[0:1].metadata.name}", "a"),
    ("{.items[*].spec.containers[*].image}", "nginx redis busybox"),
    ("{..image}", "nginx redis busybox"),
    ("{.items[0].metadata.labels}", '{"app":"web"}'),
    ("{.items[0].metadata.labels.app}", "web"),
    ("{.items[0].metadata['labels']['app']}", "web"),
    ('{.items[?(@.status.phase=="Pending")].metadata.name}', "b"),
    ('{.items[0].status.conditions[?(@.type=="Ready")].status}', "True"),
    ("{.items[?(@.spec.replicas>2)].metadata.name}", "a"),
    ("{.items[?(@.status.podIP)].metadata.name}", "a"),
    ("{.items[*].missing}", ""),
    ('{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}',
     "a\tRunning\nb\tPending\n"),
    ("{range .items[*]}[{.metadata.name}:{range .spec.containers[*]}{.name},{end}]{end}",
     "[a:x,y,][b:z,]"),
    ("name={.items[0].metadata.name}!", "name=a!"),
    ("{.items[0].metadata.name} {.items[1].metadata.name}", "a b"),
    ("{$.kind}", "List"),
])
def test_render(template: str, out: str) -> None:
    assert render(template, DATA) == out


@pytest.mark.parametrize("template", ["{.items[", "{range .items[*]}{.a}", "{end}", "{}",
                                      "{.items[x]}"])
def test_errors(template: str) -> None:
    with pytest.raises(JSONPathError):
        Template(template)
