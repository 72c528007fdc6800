"""Node selectors (a PersistentVolume's nodeAffinity, a pod's node affinity): does a node
match?

    matches_node_selector(sel, node)    -> bool   terms ORed, requirements ANDed
    matches_term(term, node)            -> bool
    pinned_node(sel)                    -> str    the one node a selector names, or ""

Requirements on labels (matchExpressions): In, NotIn, Exists, DoesNotExist, Gt, Lt; on
fields (matchFields): metadata.name with In / NotIn, as Kubernetes' nodeaffinity package.
An empty selector (no terms) matches nothing; an empty term matches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from proto import core_pb2

HOSTNAME_LABEL = "kubernetes.io/hostname"


def _requirement(r: core_pb2.NodeSelectorRequirement, values: Mapping[str, str]) -> bool:
    present = r.key in values
    v = values.get(r.key, "")
    op = r.operator
    if op == "In":
        return present and v in r.values
    if op == "NotIn":
        return not present or v not in r.values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(r.values) == 1:
        try:
            have, want = int(v), int(r.values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def matches_term(term: core_pb2.NodeSelectorTerm, node: core_pb2.Node) -> bool:
    if not term.match_expressions and not term.match_fields:
        return False
    labels = node.metadata.labels
    fields = {"metadata.name": node.metadata.name}
    return (all(_requirement(r, labels) for r in term.match_expressions)
            and all(_requirement(r, fields) for r in term.match_fields))


def matches_node_selector(sel: core_pb2.NodeSelector, node: core_pb2.Node) -> bool:
    return any(matches_term(t, node) for t in sel.node_selector_terms)


def pinned_node(sel: core_pb2.NodeSelector) -> str:
    """The node a selector names alone (a local volume's affinity: hostname In [N], or
    metadata.name In [N]); "" when it does not pin exactly one node."""
    names: set[str] = set()
    for t in sel.node_selector_terms:
        for r in [*t.match_expressions, *t.match_fields]:
            if r.operator == "In" and len(r.values) == 1 and r.key in (
                    HOSTNAME_LABEL, "metadata.name"):
                names.add(r.values[0])
    return names.pop() if len(names) == 1 else ""


def for_node(name: str) -> core_pb2.NodeSelector:
    """A selector of exactly one node by its hostname label (what a local volume carries)."""
    sel = core_pb2.NodeSelector()
    term = sel.node_selector_terms.add()
    term.match_expressions.add(key=HOSTNAME_LABEL, operator="In", values=[name])
    return sel
