"""kubectl's own generators against a real control plane: `kubectl create namespace|
deployment|configmap|secret|job|cronjob` send Kubernetes protobuf (client-go's typed clients do,
with no JSON fallback), and what they create is what the same object sent as JSON
creates. Bad protobuf bodies get Kubernetes' Status and write nothing. `kubectl explain`
shows the schema's descriptions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from corral import config as cli_config
from corral import kubeconfig
from proto.kubepb_meta_pb2 import DeleteOptions, Unknown
from tests.integration.kubeapi.conftest import Rest, pod
from tests.support.controlplane import ControlPlaneProcess

KUBECTL = str(Path(sys.executable).parent / "kubectl")
PROTOBUF = "application/vnd.kubernetes.protobuf"


class Kubectl:
    def __init__(self, config: Path) -> None:
        self.env = {"KUBECONFIG": str(config), "HOME": str(config.parent), "PATH": "/usr/bin:/bin"}

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, *args], env=self.env, capture_output=True, text=True,
                              input=stdin, timeout=60)

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        r = self.run(*args, stdin=stdin)
        assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stdout}{r.stderr}"
        return r.stdout


@pytest.fixture(scope="module")
def kubectl(cp: ControlPlaneProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    home = tmp_path_factory.mktemp("kube")
    ctx = cli_config.load(cp.admin_config).context()
    (home / "config").write_text(yaml.safe_dump(kubeconfig.build(ctx, "corral")))
    return Kubectl(home / "config")


def _spec_of(doc: dict[str, Any]) -> dict[str, Any]:
    """An object without what the server sets on each write (names, times, versions)."""
    out = {k: v for k, v in doc.items() if k != "status"}
    out["metadata"] = {k: v for k, v in doc["metadata"].items()
                       if k in ("labels", "annotations", "namespace")}
    return out


@pytest.mark.parametrize("kind,name,generator", [
    ("namespace", "gen-ns", ["create", "namespace", "{name}"]),
    ("deployment", "gen-web", ["create", "deployment", "{name}", "-n", "default",
                    "--image=registry.example/web:1.0", "--replicas=3", "--port=8080",
                    "--", "sleep", "3600"]),
    ("configmap", "gen-cm", ["create", "configmap", "{name}", "--from-literal=mode=fast",
                   "--from-literal=empty="]),
    ("secret", "gen-generic", ["create", "secret", "generic", "{name}",
                               "--from-literal=password=s3cr&t", "--type=Opaque"]),
    ("secret", "gen-registry", ["create", "secret", "docker-registry", "{name}",
                "--docker-server=registry.example", "--docker-username=u",
                "--docker-password=p"]),
])
def test_a_generator_creates_what_the_same_object_as_json_creates(
        kubectl: Kubectl, kind: str, name: str, generator: list[str]) -> None:
    args = [a.replace("{name}", name) for a in generator]
    out = kubectl(*args)
    assert f"{kind}/{name} created" in out.replace(".apps", "")
    # the same generator's JSON, created through the JSON door under another name
    dry = json.loads(kubectl(*args[:3], "--dry-run=client", "-o", "json", *args[3:]))
    dry["metadata"]["name"] = name + "-json"
    kubectl("create", "-f", "-", stdin=json.dumps(dry))
    via_protobuf = json.loads(kubectl("get", kind, name, "-o", "json",
                                      "--show-managed-fields"))
    via_json = json.loads(kubectl("get", kind, name + "-json", "-o", "json"))
    assert _spec_of(via_protobuf) == _spec_of(via_json)
    if kind != "namespace":          # a bare namespace has no field anyone manages
        assert via_protobuf["metadata"]["managedFields"][0]["manager"] == "kubectl-create"


def test_what_was_created_reads_back_as_kubectl_shows_it(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "shop")
    kubectl("create", "configmap", "settings", "-n", "shop", "--from-literal=a=1",
            "--from-literal=b=2")
    kubectl("create", "secret", "generic", "creds", "-n", "shop",
            "--from-literal=password=hunter22")
    rows = kubectl("get", "cm,secrets", "-n", "shop").split()
    assert "configmap/settings" in rows and "secret/creds" in rows and "Opaque" in rows
    described = kubectl("describe", "secret", "creds", "-n", "shop")
    assert "password:  8 bytes" in described and "hunter22" not in described
    kubectl("create", "deployment", "web", "-n", "shop", "--image=demo")
    kubectl("scale", "deployment", "web", "-n", "shop", "--replicas=4")
    kubectl("label", "deployment", "web", "-n", "shop", "tier=front")
    kubectl("annotate", "deployment", "web", "-n", "shop", "note=hi")
    got = json.loads(kubectl("get", "deployment", "web", "-n", "shop", "-o", "json"))
    assert got["spec"]["replicas"] == 4
    assert got["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert got["metadata"]["annotations"]["note"] == "hi"


def test_job_and_cronjob_generators(kubectl: Kubectl) -> None:
    kubectl("create", "cronjob", "tick", "--image=demo", "--schedule=*/5 * * * *", "--",
            "echo", "tick")
    kubectl("create", "job", "once", "--image=demo", "--", "echo", "once")
    kubectl("create", "job", "now", "--from=cronjob/tick")
    cron = json.loads(kubectl("get", "cronjob", "tick", "-o", "json"))
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    for name, args in (("once", ["echo", "once"]), ("now", ["echo", "tick"])):
        job = json.loads(kubectl("get", "job", name, "-o", "json"))
        assert job["spec"]["template"]["spec"]["containers"][0]["command"] == args
    owner = json.loads(kubectl("get", "job", "now", "-o", "json"))["metadata"]
    assert owner["ownerReferences"][0]["name"] == "tick"


def test_explain_shows_the_descriptions_of_the_schema(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.replicas")
    assert "DESCRIPTION:\n    How many pods to run. Default 1." in out
    out = kubectl("explain", "secret")
    assert "stringData\t<map[string]string>\n    The same as data, with plain-text values" in out


def test_an_invalid_object_from_a_generator_is_422_with_its_field(kubectl: Kubectl) -> None:
    r = kubectl.run("create", "configmap", "Not_A_Name", "--from-literal=a=1")
    assert r.returncode != 0
    assert 'ConfigMap "Not_A_Name" is invalid: metadata.name: Invalid value' in r.stderr
    assert kubectl.run("get", "configmap", "Not_A_Name").returncode != 0


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    envelope = Unknown(raw=raw)
    envelope.typeMeta.apiVersion, envelope.typeMeta.kind = api_version, kind
    return b"k8s\x00" + envelope.SerializeToString()


def test_bad_protobuf_bodies_write_nothing(api: Rest) -> None:
    ns = "/api/v1/namespaces/default"
    r = api("POST", ns + "/pods", b"k8s\x00\xff\xff", content_type=PROTOBUF)
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert "not valid Kubernetes protobuf" in r.json()["message"]
    r = api("POST", "/apis/apps/v1/namespaces/default/deployments",
            _envelope("networking.k8s.io/v1", "Ingress", b""), content_type=PROTOBUF)
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    # PodSpec field 12 (hostPID, which corral does not serve) set to true
    raw = b"\x0a\x05\x0a\x03bad" + b"\x12\x02\x60\x01"
    r = api("POST", ns + "/pods", _envelope("v1", "Pod", raw), content_type=PROTOBUF)
    assert r.status_code == 400
    assert "spec: field number 12 of Kubernetes' PodSpec is set" in r.json()["message"]
    assert api("GET", ns + "/pods/bad").status_code == 404
    r = api("POST", ns + "/pods", b"\xa1", content_type="application/cbor")
    assert r.status_code == 415


def test_a_typed_clients_delete_sends_its_options_as_protobuf(api: Rest) -> None:
    ns = "/api/v1/namespaces/default"
    created = api.ok("POST", ns + "/pods", pod("pb-del"))
    opts = DeleteOptions(dryRun=["All"])
    r = api("DELETE", ns + "/pods/pb-del",
            _envelope("v1", "DeleteOptions", opts.SerializeToString()), content_type=PROTOBUF)
    assert r.status_code == 200, r.text
    assert api.ok("GET", ns + "/pods/pb-del")["metadata"]["uid"] == created["metadata"]["uid"]
    opts = DeleteOptions(gracePeriodSeconds=0)
    opts.preconditions.uid = "not-it"
    r = api("DELETE", ns + "/pods/pb-del",
            _envelope("v1", "DeleteOptions", opts.SerializeToString()), content_type=PROTOBUF)
    assert r.status_code == 409 and "Precondition failed" in r.json()["message"]
