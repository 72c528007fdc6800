"""The columns of each kind, computed like kubectl's: `corral get` prints them and the
Kubernetes API serves them as a Table (controlplane/httpapi/tables.py).

The package: base (TableDef), pods, workloads (deployments, replicasets), batch
(jobs, cronjobs, daemonsets, statefulsets, controllerrevisions), storage (claims,
volumes, storage classes), config, nodes, other_kinds (namespaces, events, leases,
any other), tables (the table of each kind, headers and rows).
"""

from proto.columns.base import Row, TableDef, none_if_empty
from proto.columns.nodes import node_address, node_roles, node_status
from proto.columns.other_kinds import event_time, generic_row, involved
from proto.columns.pods import (
    NODE_UNREACHABLE_REASON,
    pod_ready,
    pod_restarts,
    pod_status,
)
from proto.columns.tables import (
    GENERIC,
    TABLES,
    headers,
    qualified_kind,
    qualified_resource,
    row,
    table_for,
)
from proto.columns.workloads import format_selector

__all__ = [
    "GENERIC", "NODE_UNREACHABLE_REASON", "TABLES", "Row", "TableDef", "event_time",
    "format_selector", "generic_row", "headers", "involved", "node_address", "node_roles",
    "node_status", "none_if_empty", "pod_ready", "pod_restarts", "pod_status",
    "qualified_kind", "qualified_resource", "row", "table_for",
]
