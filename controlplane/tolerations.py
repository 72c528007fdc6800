"""Whether a pod's tolerations tolerate a node's taint (Kubernetes' ToleratesTaint).

Shared by the scheduler's filters (TaintToleration, NodeUnschedulable) and the
node lifecycle controller's NoExecute evictions (controllers/noexecute.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from proto import core_pb2


def tolerates(tol: core_pb2.Toleration, taint: core_pb2.Taint) -> bool:
    """Kubernetes' Toleration.ToleratesTaint: an empty effect or key matches any;
    operator Exists matches any value, Equal (the default) the same value."""
    if tol.effect and tol.effect != taint.effect:
        return False
    if tol.key and tol.key != taint.key:
        return False
    op = tol.operator or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return tol.value == taint.value
    return False


def tolerated(tolerations: Iterable[core_pb2.Toleration], taint: core_pb2.Taint) -> bool:
    """Some toleration of `tolerations` tolerates `taint`."""
    return any(tolerates(t, taint) for t in tolerations)
