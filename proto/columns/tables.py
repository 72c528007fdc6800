"""The table of each kind, and the headers and cells of a row with the options of
`corral get` (-o wide, namespace column, labels, kind prefix)."""

from __future__ import annotations

import time

from proto import api_pb2, kinds
from proto.columns.base import TableDef
from proto.columns.batch import (
    cronjob_row,
    cronjob_wide,
    ds_row,
    ds_wide,
    job_row,
    job_wide,
    revision_row,
    sts_row,
    sts_wide,
)
from proto.columns.config import configmap_row, secret_row
from proto.columns.nodes import node_row, node_wide
from proto.columns.other_kinds import event_row, generic_row, lease_row, ns_row
from proto.columns.pods import pod_row, pod_wide
from proto.columns.services import ep_row, slice_row, svc_row, svc_wide
from proto.columns.storage import pv_row, pv_wide, pvc_row, pvc_wide, sc_row
from proto.columns.workloads import deploy_row, deploy_wide, rs_row, rs_wide

TABLES: dict[str, TableDef] = {
    "pods": TableDef(("NAME", "READY", "STATUS", "RESTARTS", "AGE"), pod_row,
                     ("IP", "NODE", "NOMINATED NODE", "READINESS GATES"), pod_wide, 2),
    "deployments": TableDef(("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"), deploy_row,
                            ("CONTAINERS", "IMAGES", "SELECTOR"), deploy_wide),
    "replicasets": TableDef(("NAME", "DESIRED", "CURRENT", "READY", "AGE"), rs_row,
                            ("CONTAINERS", "IMAGES", "SELECTOR"), rs_wide),
    "nodes": TableDef(("NAME", "STATUS", "ROLES", "AGE", "VERSION"), node_row,
                      ("INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION",
                       "CONTAINER-RUNTIME"), node_wide, 1),
    "namespaces": TableDef(("NAME", "STATUS", "AGE"), ns_row, status_column=1),
    "events": TableDef(("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"), event_row,
                       status_column=1),
    "leases": TableDef(("NAME", "HOLDER", "AGE"), lease_row),
    "services": TableDef(("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"),
                         svc_row, ("SELECTOR",), svc_wide),
    "endpoints": TableDef(("NAME", "ENDPOINTS", "AGE"), ep_row),
    "endpointslices": TableDef(("NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"), slice_row),
    # workloads and volumes
    "jobs": TableDef(("NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"), job_row,
                     ("CONTAINERS", "IMAGES", "SELECTOR"), job_wide, 1),
    "cronjobs": TableDef(("NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE",
                          "AGE"), cronjob_row, ("CONTAINERS", "IMAGES", "SELECTOR"),
                         cronjob_wide),
    "daemonsets": TableDef(("NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                            "NODE SELECTOR", "AGE"), ds_row,
                           ("CONTAINERS", "IMAGES", "SELECTOR"), ds_wide),
    "statefulsets": TableDef(("NAME", "READY", "AGE"), sts_row, ("CONTAINERS", "IMAGES"),
                             sts_wide),
    "controllerrevisions": TableDef(("NAME", "CONTROLLER", "REVISION", "AGE"), revision_row),
    "persistentvolumeclaims": TableDef(("NAME", "STATUS", "VOLUME", "CAPACITY",
                                        "ACCESS MODES", "STORAGECLASS",
                                        "VOLUMEATTRIBUTESCLASS", "AGE"), pvc_row,
                                       ("VOLUMEMODE",), pvc_wide, 1),
    "persistentvolumes": TableDef(("NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY",
                                   "STATUS", "CLAIM", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS",
                                   "REASON", "AGE"), pv_row, ("VOLUMEMODE",), pv_wide, 4),
    "storageclasses": TableDef(("NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                                "ALLOWVOLUMEEXPANSION", "AGE"), sc_row),
    "configmaps": TableDef(("NAME", "DATA", "AGE"), configmap_row),
    "secrets": TableDef(("NAME", "TYPE", "DATA", "AGE"), secret_row),
}

GENERIC = TableDef(("NAME", "AGE"), generic_row)


def table_for(resource: str) -> TableDef:
    return TABLES.get(resource, GENERIC)


def _labels(obj: api_pb2.Object) -> str:
    meta = kinds.unwrap(obj).metadata  # type: ignore[attr-defined]
    return ",".join(f"{k}={v}" for k, v in sorted(meta.labels.items())) or "<none>"


def headers(resource: str, *, wide: bool = False, namespace_column: bool = False,
            show_labels: bool = False, label_columns: tuple[str, ...] = ()) -> list[str]:
    t = table_for(resource)
    out = list(t.headers)
    if wide:
        out += t.wide_headers
    if namespace_column:
        out.insert(0, "NAMESPACE")
    out += [key.rsplit("/", 1)[-1].upper() for key in label_columns]
    if show_labels:
        out.append("LABELS")
    return out


def row(obj: api_pb2.Object, *, wide: bool = False, namespace_column: bool = False,
        show_labels: bool = False, with_kind: bool = False, now: float | None = None,
        label_columns: tuple[str, ...] = ()) -> list[str]:
    now = time.time() if now is None else now
    k = kinds.of(obj)
    t = table_for(k.resource)
    cells = t.row(obj, now)
    if with_kind and k.resource != "events":
        cells[0] = f"{qualified_kind(k)}/{cells[0]}"
    if wide and t.wide_row is not None:
        cells += t.wide_row(obj, now)
    if namespace_column:
        cells.insert(0, kinds.unwrap(obj).metadata.namespace)  # type: ignore[attr-defined]
    if label_columns:
        meta_labels = kinds.unwrap(obj).metadata.labels  # type: ignore[attr-defined]
        cells += [meta_labels.get(key, "") for key in label_columns]
    if show_labels:
        cells.append(_labels(obj))
    return cells


def qualified_kind(k: kinds.Kind) -> str:
    """'pod', 'deployment.apps', 'lease.coordination.k8s.io' as kubectl names them."""
    return f"{k.singular}.{k.group}" if k.group else k.singular


def qualified_resource(k: kinds.Kind) -> str:
    """'pods', 'deployments.apps': how kubectl names a resource in error messages."""
    return f"{k.resource}.{k.group}" if k.group else k.resource
