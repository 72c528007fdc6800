"""The columns of ConfigMaps (NAME DATA AGE) and Secrets (NAME TYPE DATA AGE), as kubectl's."""

from __future__ import annotations

from proto import api_pb2
from proto.columns.humanize import age


def configmap_row(obj: api_pb2.Object, now: float) -> list[str]:
    cm = obj.config_map
    return [cm.metadata.name, str(len(cm.data) + len(cm.binary_data)),
            age(cm.metadata.creation_timestamp, now)]


def secret_row(obj: api_pb2.Object, now: float) -> list[str]:
    s = obj.secret
    return [s.metadata.name, s.type or "Opaque", str(len(s.data)),
            age(s.metadata.creation_timestamp, now)]
