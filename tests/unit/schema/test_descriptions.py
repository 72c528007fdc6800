"""Field descriptions: written as comments in proto/*.proto, collected by
scripts/protodocs.py into proto/descriptions.json, served in the OpenAPI documents
(`kubectl explain`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from proto import descriptions, kinds, openapi

REPO = Path(__file__).resolve().parents[3]

# What people explain most: every field of these has its words
EXPLAINED = ("corral.v1.ObjectMeta", "corral.v1.PodSpec", "corral.v1.Container",
             "corral.v1.Probe", "corral.v1.Volume", "corral.v1.VolumeMount",
             "corral.v1.ResourceRequirements", "corral.v1.DeploymentSpec",
             "corral.v1.ReplicaSetSpec", "corral.v1.ConfigMap", "corral.v1.Secret")


def _definitions() -> dict[str, dict]:
    return openapi.definitions(kinds.KINDS, lambda n: "#/definitions/" + n)


@pytest.mark.parametrize("message", EXPLAINED)
def test_every_field_people_explain_is_described(message: str) -> None:
    from google.protobuf import descriptor_pool

    desc = descriptor_pool.Default().FindMessageTypeByName(message)
    bare = [fd.name for fd in desc.fields
            if not (descriptions.of(message, fd.name)
                    or (fd.name in descriptions.COMMON and desc.name in
                        {k.kind for k in kinds.KINDS}))]
    assert not bare, (f"fields of {message} without a description: {bare} (write a // "
                      "comment right above each in its .proto, then scripts/genproto.sh)")


def test_every_kind_is_described_in_the_openapi_documents() -> None:
    defs = _definitions()
    for k in kinds.KINDS:
        schema = defs[openapi.definition_name(k)]
        assert schema.get("description"), k.kind
        props = schema["properties"]
        assert props["apiVersion"]["description"] and props["kind"]["description"]
        # a described $ref is an allOf, as in Kubernetes' documents (explain reads both)
        assert props["metadata"]["allOf"] == [
            {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
        assert props["metadata"]["description"]
    replicas = defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"]
    assert replicas == {"type": "integer", "format": "int32",
                        "description": "How many pods to run. Default 1."}


def test_leading_and_trailing_comments_describe_and_detached_ones_do_not(
        tmp_path: Path) -> None:
    (tmp_path / "proto").mkdir()
    (tmp_path / "proto" / "x.proto").write_text(
        'syntax = "proto3";\npackage t.v1;\n\n'
        "// A note for the reader of this file.\n\n"
        "// The thing.\nmessage Thing {\n"
        "  // Its name,\n  // on two lines.\n  string name = 1;  // required\n"
        "  // Field numbers 100-119: another team's.\n\n  int32 size = 100;\n"
        "  // Services and DNS (100-119)\n  int32 port = 102;\n"
        "  bool flag = 101;\n}\n")
    pb = tmp_path / "x.pb"
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", str(tmp_path),
                    "--include_source_info", f"--descriptor_set_out={pb}", "proto/x.proto"],
                   check=True)
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "protodocs.py"), str(pb)],
                         check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == {"t.v1.Thing": {"": "The thing.",
                                              "name": "Its name, on two lines. required"}}
