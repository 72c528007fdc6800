"""Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` answered
with a meta.k8s.io/v1 Table whose columns are corral's own (proto/columns/), so kubectl
prints what `corral get` prints. Wide columns have priority 1 (`kubectl get -o wide`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from controlplane.httpapi.call import encode
from proto import api_pb2, columns, kinds

_DESCRIPTIONS = {
    "NAME": "Name must be unique within a namespace.",
    "AGE": "CreationTimestamp is a timestamp representing the server time when this object "
           "was created.",
}


def _column(name: str, priority: int) -> dict[str, Any]:
    return {"name": name.title() if name != "NAME" else "Name",
            "type": "string", "format": "name" if name == "NAME" else "",
            "description": _DESCRIPTIONS.get(name, ""), "priority": priority}


def column_definitions(resource: str) -> list[dict[str, Any]]:
    t = columns.table_for(resource)
    return [*(_column(h, 0) for h in t.headers), *(_column(h, 1) for h in t.wide_headers)]


def _cells(obj: api_pb2.Object, now: float) -> list[Any]:
    return columns.row(obj, wide=True, now=now)


def partial_metadata(obj: api_pb2.Object) -> dict[str, Any]:
    doc = encode(obj)
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": doc.get("metadata", {})}


def table(objs: Iterable[api_pb2.Object], resource: str, *, resource_version: str = "",
          include_object: str = "Metadata", continue_token: str = "",
          headers: bool = True) -> dict[str, Any]:
    now = time.time()
    rows = []
    for obj in objs:
        row: dict[str, Any] = {"cells": _cells(obj, now)}
        if include_object == "Object":
            row["object"] = encode(obj)
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    meta: dict[str, Any] = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_token:
        meta["continue"] = continue_token
    out: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    if headers:
        out["columnDefinitions"] = column_definitions(resource)
    out["rows"] = rows
    return out


def kind_resource(obj: api_pb2.Object) -> str:
    return kinds.of(obj).resource
