"""ConfigMaps and Secrets as manifests: decoding (base64 with the key's path, no
value in any error), defaults (stringData merged into data) and Kubernetes'
validation (keys, 1 MiB, Secret types, immutable), and what a pod may reference."""

import copy
from typing import Any

import pytest

from controlplane.apiserver.defaults import apply_defaults
from controlplane.apiserver.validation import validate
from proto import api_pb2, codec

SECRET_VALUE = "hunter2-very-secret"


def obj(doc: dict[str, Any]) -> api_pb2.Object:
    o = codec.decode(doc)
    apply_defaults(o)
    return o


def problems(doc: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [str(e) for e in validate(obj(doc), obj(old) if old is not None else None)]


def cm(**extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "game-config"},
            **extra}


def secret(**extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-user-pass"},
            **extra}


# ---- decoding -------------------------------------------------------------------

def test_secret_data_is_base64_and_line_breaks_are_ignored() -> None:
    o = codec.decode(secret(data={"password": "MWYyZDFl\nMmU2N2Rm\n"}))
    assert o.secret.data["password"] == b"1f2d1e2e67df"
    assert codec.encode(o)["data"] == {"password": "MWYyZDFlMmU2N2Rm"}


@pytest.mark.parametrize("bad, at", [("c2VjcmV0!", 8), ("c2Vj=mV0", 4), ("c2VjcmV0M", 9)])
def test_bad_base64_names_the_key_and_byte_not_the_value(bad: str, at: int) -> None:
    with pytest.raises(codec.DecodeError) as e:
        codec.decode(secret(data={"password": bad}))
    assert e.value.path == "data.password"
    assert f"illegal base64 data at input byte {at}" in str(e.value)
    assert bad not in str(e.value)


def test_configmap_binary_data_is_base64() -> None:
    with pytest.raises(codec.DecodeError) as e:
        codec.decode(cm(binaryData={"logo.png": "not base64"}))
    assert e.value.path == "binaryData.logo.png"


@pytest.mark.parametrize("field", ["data", "stringData"])
def test_a_secret_value_of_the_wrong_type_is_never_echoed(field: str) -> None:
    with pytest.raises(codec.DecodeError) as e:
        codec.decode(secret(**{field: {"pin": 987654321}}))
    assert "987654321" not in str(e.value)
    assert "integer" in str(e.value)


def test_secret_namespace_in_a_pod_reference_is_an_unknown_field() -> None:
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "busybox", "env": [{"name": "X", "valueFrom": {
            "secretKeyRef": {"name": "db", "key": "pw", "namespace": "other"}}}]}]}}
    with pytest.raises(codec.DecodeError) as e:
        codec.decode(doc)
    assert e.value.path == "spec.containers[0].env[0].valueFrom.secretKeyRef.namespace"


# ---- defaults ---------------------------------------------------------------------

def test_string_data_is_merged_into_data_and_wins() -> None:
    o = obj(secret(data={"user": "YWRtaW4=", "pw": "b2xk"}, stringData={"pw": "new"}))
    assert dict(o.secret.data) == {"user": b"admin", "pw": b"new"}
    assert not o.secret.string_data
    assert o.secret.type == "Opaque"


def test_config_volumes_default_mode_0644_and_field_ref_v1() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "busybox"}],
        "volumes": [
            {"name": "a", "configMap": {"name": "x"}},
            {"name": "b", "secret": {"secretName": "y", "defaultMode": 0o400}},
            {"name": "c", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
            {"name": "d", "projected": {"sources": [{"configMap": {"name": "x"}}]}}]}}
    spec = obj(pod).pod.spec
    assert [v.config_map.default_mode for v in spec.volumes[:1]] == [0o644]
    assert spec.volumes[1].secret.default_mode == 0o400
    assert spec.volumes[2].downward_api.default_mode == 0o644
    assert spec.volumes[2].downward_api.items[0].field_ref.api_version == "v1"
    assert spec.volumes[3].projected.default_mode == 0o644


# ---- ConfigMap validation --------------------------------------------------------

def test_configmap_keys_follow_kubernetes() -> None:
    errs = problems(cm(data={"game.properties": "a", "ui_conf-1": "b", "bad key": "c",
                             "..hidden": "d", ".": "e"}))
    assert any(e.startswith("data[bad key]: Invalid value: \"bad key\": a valid config key")
               for e in errs)
    assert any("data[..hidden]" in e and "must not start with '..'" in e for e in errs)
    assert any("data[.]" in e and "must not be '.'" in e for e in errs)
    assert len(errs) == 3


def test_configmap_key_in_data_and_binary_data() -> None:
    errs = problems(cm(data={"k": "v"}, binaryData={"k": "dg=="}))
    assert errs == ['data[k]: Invalid value: "k": duplicate of key present in binaryData']


def test_one_mebibyte_at_most() -> None:
    assert problems(cm(data={"a": "x" * (1024 * 1024)})) == []
    errs = problems(cm(data={"a": "x" * (1024 * 1024 - 1), "b": "yy"}))
    assert errs == ["Too long: may not be more than 1048576 bytes"]
    errs = problems(secret(stringData={"a": "x" * (1024 * 1024 + 1)}))
    assert errs == ["data: Too long: may not be more than 1048576 bytes"]


def test_immutable_configmap_keeps_its_data() -> None:
    old = cm(data={"k": "v"}, immutable=True)
    assert problems(cm(data={"k": "v"}, immutable=True,
                       metadata={"name": "game-config", "labels": {"a": "b"}}), old) == []
    errs = problems(cm(data={"k": "w"}, immutable=True), old)
    assert errs == ["data: Forbidden: field is immutable when `immutable` is set"]
    errs = problems(cm(data={"k": "v"}), old)
    assert errs == ["immutable: Forbidden: field is immutable when `immutable` is set"]
    assert problems(cm(data={"k": "w"}, immutable=True), cm(data={"k": "v"})) == []


# ---- Secret validation -----------------------------------------------------------

@pytest.mark.parametrize("type_, data, want", [
    ("kubernetes.io/tls", {"tls.crt": "eA=="}, ["data[tls.key]: Required value"]),
    ("kubernetes.io/tls", {"tls.crt": "eA==", "tls.key": "eA=="}, []),
    ("kubernetes.io/basic-auth", {}, ["data[username]: Required value",
                                      "data[password]: Required value"]),
    ("kubernetes.io/basic-auth", {"username": ""}, []),
    ("kubernetes.io/ssh-auth", {}, ["data[ssh-privatekey]: Required value"]),
    ("kubernetes.io/dockerconfigjson", {}, ["data[.dockerconfigjson]: Required value"]),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": "eyJhdXRocyI6e319"}, []),
    ("example.com/custom", {"any": "eA=="}, []),
])
def test_secret_types(type_: str, data: dict[str, str], want: list[str]) -> None:
    assert problems(secret(type=type_, data=data)) == want


def test_bad_dockerconfigjson_never_shows_the_content() -> None:
    errs = problems(secret(type="kubernetes.io/dockerconfigjson",
                           stringData={".dockerconfigjson": '{"auths": ' + SECRET_VALUE}))
    assert len(errs) == 1
    assert errs[0].startswith('data[.dockerconfigjson]: Invalid value: "<secret contents '
                              'redacted>": invalid JSON')
    assert SECRET_VALUE not in errs[0]


def test_service_account_tokens_are_refused_clearly() -> None:
    errs = problems(secret(type="kubernetes.io/service-account-token"))
    assert len(errs) == 1 and errs[0].startswith("type: Forbidden:")
    assert "service accounts" in errs[0]


def test_secret_type_and_immutable_data_do_not_change() -> None:
    old = secret(type="kubernetes.io/basic-auth", stringData={"username": "a"}, immutable=True)
    errs = problems(secret(stringData={"username": "a"}, immutable=True), old)
    assert errs == ['type: Invalid value: "Opaque": field is immutable']
    errs = problems(secret(type="kubernetes.io/basic-auth", stringData={"username": "b"},
                           immutable=True), old)
    assert errs == ["data: Forbidden: field is immutable when `immutable` is set"]
    assert not any(SECRET_VALUE in e for e in problems(
        secret(stringData={"x": SECRET_VALUE}), secret(stringData={"x": "y"}, immutable=True)))


# ---- what pods reference ---------------------------------------------------------

POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}


def pod(volumes: list[Any] | None = None, **container: Any) -> dict[str, Any]:
    doc = copy.deepcopy(POD)
    doc["spec"]["containers"][0].update(container)
    if volumes is not None:
        doc["spec"]["volumes"] = volumes
    return doc


def test_the_kubernetes_docs_forms_validate() -> None:
    doc = pod(
        volumes=[
            {"name": "config-volume", "configMap": {"name": "special-config", "items": [
                {"key": "SPECIAL_LEVEL", "path": "keys"}]}},
            {"name": "foo", "secret": {"secretName": "mysecret", "defaultMode": 0o400,
                                       "optional": True}},
            {"name": "podinfo", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "cpu_limit", "resourceFieldRef": {
                    "containerName": "c", "resource": "limits.cpu", "divisor": "1m"}}]}},
            {"name": "all-in-one", "projected": {"sources": [
                {"secret": {"name": "mysecret", "items": [{"key": "username",
                                                           "path": "my-group/my-username"}]}},
                {"downwardAPI": {"items": [{"path": "labels",
                                            "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                {"configMap": {"name": "myconfigmap", "items": [
                    {"key": "config", "path": "my-group/my-config", "mode": 0o777}]}}]}}],
        env=[{"name": "SPECIAL_LEVEL_KEY", "valueFrom": {"configMapKeyRef": {
                  "name": "special-config", "key": "special.how"}}},
             {"name": "SECRET_USERNAME", "valueFrom": {"secretKeyRef": {
                  "name": "backend-user", "key": "backend-username", "optional": True}}}],
        envFrom=[{"configMapRef": {"name": "special-config"}},
                 {"prefix": "DB_", "secretRef": {"name": "db"}}],
        volumeMounts=[{"name": "config-volume", "mountPath": "/etc/config"},
                      {"name": "foo", "mountPath": "/etc/foo", "readOnly": True}])
    doc["spec"]["imagePullSecrets"] = [{"name": "regcred"}]
    assert problems(doc) == []


def test_a_secret_of_another_namespace_is_refused() -> None:
    errs = problems(pod(env=[{"name": "X", "valueFrom": {"secretKeyRef": {
        "name": "kube-system/db", "key": "pw"}}}]))
    assert len(errs) == 1
    assert errs[0].startswith('spec.containers[0].env[0].valueFrom.secretKeyRef.name: Invalid '
                              'value: "kube-system/db": a pod may only reference Secrets in '
                              "its own namespace")
    for vol in ({"name": "v", "secret": {"secretName": "other/db"}},
                {"name": "v", "projected": {"sources": [{"secret": {"name": "other/db"}}]}}):
        errs = problems(pod(volumes=[vol]))
        assert len(errs) == 1 and "own namespace" in errs[0]
    errs = problems(pod(envFrom=[{"secretRef": {"name": "other/db"}}]))
    assert len(errs) == 1 and "own namespace" in errs[0]


@pytest.mark.parametrize("volume, want", [
    ({"configMap": {}}, "spec.volumes[0].configMap.name: Required value"),
    ({"configMap": {"name": "x", "defaultMode": 0o1777}},
     "spec.volumes[0].configMap.defaultMode: Invalid value: 1023: must be a number between 0 "
     "and 0777 (octal), both inclusive"),
    ({"secret": {"secretName": "x", "items": [{"key": "a", "path": "../up"}]}},
     "spec.volumes[0].secret.items[0].path: Invalid value: \"../up\": must not contain '..'"),
    ({"secret": {"secretName": "x", "items": [{"key": "a", "path": "/abs"}]}},
     'spec.volumes[0].secret.items[0].path: Invalid value: "/abs": must be a relative path'),
    ({"secret": {"secretName": "x", "items": [{"path": "a"}]}},
     "spec.volumes[0].secret.items[0].key: Required value"),
    ({"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "spec.nodeName"}}]}},
     'spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value: '
     '"spec.nodeName"'),
    ({"downwardAPI": {"items": [{"path": "c", "resourceFieldRef": {"resource": "limits.cpu"}}]}},
     "spec.volumes[0].downwardAPI.items[0].resourceFieldRef.containerName: Required value"),
    ({"projected": {"sources": [{"configMap": {"name": "a", "items": [
        {"key": "k", "path": "same"}]}}, {"secret": {"name": "b", "items": [
            {"key": "k", "path": "same"}]}}]}},
     'spec.volumes[0].projected.sources: Invalid value: "same": conflicting duplicate paths'),
    ({"projected": {"sources": [{}]}},
     "spec.volumes[0].projected.sources[0]: Required value: must specify exactly one of"),
    ({"configMap": {"name": "a"}, "secret": {"secretName": "b"}},
     "spec.volumes[0].secret: Forbidden: may not specify more than 1 volume type"),
])
def test_volume_errors_name_their_path(volume: dict[str, Any], want: str) -> None:
    errs = problems(pod(volumes=[{"name": "v", **volume}]))
    assert len(errs) == 1, errs
    assert errs[0].startswith(want), errs


@pytest.mark.parametrize("container, want", [
    ({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "x"}}}]},
     "spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Required value"),
    ({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "a"},
                                          "secretKeyRef": {"name": "y", "key": "b"}}}]},
     'spec.containers[0].env[0].valueFrom: Invalid value: "": may not have more than one'),
    ({"envFrom": [{"prefix": "1X", "configMapRef": {"name": "x"}}]},
     'spec.containers[0].envFrom[0].prefix: Invalid value: "1X"'),
    ({"envFrom": [{}]},
     "spec.containers[0].envFrom[0]: Required value: must specify one of: `configMapRef` or "
     "`secretRef`"),
    ({"envFrom": [{"configMapRef": {"name": "x"}, "secretRef": {"name": "y"}}]},
     "spec.containers[0].envFrom[0]: Forbidden: may not have more than one field"),
])
def test_env_errors_name_their_path(container: dict[str, Any], want: str) -> None:
    errs = problems(pod(**container))
    assert len(errs) == 1, errs
    assert errs[0].startswith(want), errs
