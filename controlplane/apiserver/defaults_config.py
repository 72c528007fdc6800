"""Kubernetes' defaults for Secrets and for the ConfigMap / Secret / projected /
downward API volumes of a pod (pkg/apis/core/v1/defaults.go, conversion.go).

A Secret's `stringData` is write-only: it is merged into `data` (its keys win)
and cleared, so what is stored, returned and validated is `data` alone.
"""

from __future__ import annotations

from proto import config_pb2, core_pb2

DEFAULT_MODE = 0o644        # Kubernetes' 420 for configMap, secret, projected, downwardAPI


def default_secret(s: config_pb2.Secret) -> None:
    if not s.type:
        s.type = "Opaque"
    for key, value in s.string_data.items():
        s.data[key] = value.encode()
    s.ClearField("string_data")


def default_config_volumes(spec: core_pb2.PodSpec) -> None:
    for v in spec.volumes:
        if v.HasField("config_map") and not v.config_map.HasField("default_mode"):
            v.config_map.default_mode = DEFAULT_MODE
        if v.HasField("secret") and not v.secret.HasField("default_mode"):
            v.secret.default_mode = DEFAULT_MODE
        if v.HasField("projected") and not v.projected.HasField("default_mode"):
            v.projected.default_mode = DEFAULT_MODE
        if v.HasField("downward_api") and not v.downward_api.HasField("default_mode"):
            v.downward_api.default_mode = DEFAULT_MODE
        for item in v.downward_api.items:
            _default_field_ref(item)
        for proj in v.projected.sources:
            for item in proj.downward_api.items:
                _default_field_ref(item)


def _default_field_ref(item: core_pb2.DownwardAPIVolumeFile) -> None:
    if item.HasField("field_ref") and not item.field_ref.api_version:
        item.field_ref.api_version = "v1"
