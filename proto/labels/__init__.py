"""Label and field selectors, and the name/label syntax checks Kubernetes uses.

    parse_selector("app=web,tier in (a,b),!legacy") -> Selector
    from_label_selector(meta_pb2.LabelSelector)     -> Selector
    Selector.matches({"app": "web"})                -> bool
    parse_field_selector("spec.nodeName=node-1")    -> FieldSelector
    FieldSelector.matches(api_pb2.Object)           -> bool
    matches_node_selector(core_pb2.NodeSelector, core_pb2.Node) -> bool  (node affinity)

Syntax errors raise SelectorError (a ValueError) naming the offending part.
The `*_errors` helpers return Kubernetes' messages (empty list: valid).
"""

from __future__ import annotations

# The package: names (name/label syntax), selector (label selectors), fields
# (field selectors).
from proto.labels.fields import (
    FieldRequirement,
    FieldSelector,
    parse_field_selector,
    selected_name,
)
from proto.labels.names import (
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    label_value_errors,
    qualified_name_errors,
)
from proto.labels.nodeselector import matches_node_selector, matches_term, pinned_node
from proto.labels.selector import (
    Requirement,
    Selector,
    SelectorError,
    from_label_selector,
    parse_selector,
)

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "Requirement",
    "Selector",
    "SelectorError",
    "dns1035_label_errors",
    "dns1123_label_errors",
    "dns1123_subdomain_errors",
    "from_label_selector",
    "label_value_errors",
    "matches_node_selector",
    "matches_term",
    "parse_field_selector",
    "parse_selector",
    "pinned_node",
    "qualified_name_errors",
    "selected_name",
]
