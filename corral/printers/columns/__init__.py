"""The columns `corral get` prints for each kind, computed like kubectl's.

The package: base (TableDef), pods, workloads (deployments, replicasets), nodes,
other_kinds (namespaces, events, leases, any other), tables (the table of each
kind, headers and rows).
"""

from corral.printers.columns.base import Row, TableDef, none_if_empty
from corral.printers.columns.nodes import node_address, node_roles, node_status
from corral.printers.columns.other_kinds import event_time, generic_row, involved
from corral.printers.columns.pods import (
    NODE_UNREACHABLE_REASON,
    pod_ready,
    pod_restarts,
    pod_status,
)
from corral.printers.columns.tables import (
    GENERIC,
    TABLES,
    headers,
    qualified_kind,
    qualified_resource,
    row,
    table_for,
)
from corral.printers.columns.workloads import format_selector

__all__ = [
    "GENERIC", "NODE_UNREACHABLE_REASON", "TABLES", "Row", "TableDef", "event_time",
    "format_selector", "generic_row", "headers", "involved", "node_address", "node_roles",
    "node_status", "none_if_empty", "pod_ready", "pod_restarts", "pod_status",
    "qualified_kind", "qualified_resource", "row", "table_for",
]
