"""Validation of node selectors: a pod's node affinity and a PersistentVolume's
nodeAffinity (k8s.io/kubernetes pkg/apis/core/validation, ValidateNodeSelector)."""

from __future__ import annotations

from controlplane.apiserver.validation_util import Errors, join
from proto import core_pb2, labels

NODE_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
FIELD_SELECTOR_KEYS = ("metadata.name",)


def _requirement(r: core_pb2.NodeSelectorRequirement, path: str, errs: Errors,
                 *, fields: bool) -> None:
    if fields:
        if r.key not in FIELD_SELECTOR_KEYS:
            errs.invalid(join(path, "key"), r.key, "not a valid field selector key")
        if r.operator not in ("In", "NotIn"):
            errs.invalid(join(path, "operator"), r.operator, "not a valid selector operator")
        elif len(r.values) != 1:
            errs.required(join(path, "values"), "must be only one value when `operator` is "
                                                "'In' or 'NotIn' for node field selector")
        return
    if not r.key:
        errs.required(join(path, "key"))
    else:
        errs.qualified_name(join(path, "key"), r.key)
    op = r.operator
    if op in ("In", "NotIn"):
        if not r.values:
            errs.required(join(path, "values"), "must be specified when `operator` is 'In' "
                                                "or 'NotIn'")
    elif op in ("Exists", "DoesNotExist"):
        if r.values:
            errs.forbidden(join(path, "values"), "may not be specified when `operator` is "
                                                 "'Exists' or 'DoesNotExist'")
    elif op in ("Gt", "Lt"):
        if len(r.values) != 1:
            errs.required(join(path, "values"), "must be specified single value when "
                                                "`operator` is 'Lt' or 'Gt'")
        elif not r.values[0].lstrip("-").isdigit():
            errs.invalid(join(path, "values[0]"), r.values[0], "must be an integer")
    elif not op:
        errs.required(join(path, "operator"))
    else:
        errs.unsupported(join(path, "operator"), op, NODE_SELECTOR_OPERATORS)
    for i, v in enumerate(r.values):
        for msg in labels.label_value_errors(v):
            errs.invalid(f"{path}.values[{i}]", v, msg)


def validate_term(term: core_pb2.NodeSelectorTerm, path: str, errs: Errors) -> None:
    for i, r in enumerate(term.match_expressions):
        _requirement(r, f"{path}.matchExpressions[{i}]", errs, fields=False)
    for i, r in enumerate(term.match_fields):
        _requirement(r, f"{path}.matchFields[{i}]", errs, fields=True)


def validate_node_selector(sel: core_pb2.NodeSelector, path: str, errs: Errors) -> None:
    if not sel.node_selector_terms:
        errs.required(join(path, "nodeSelectorTerms"), "must have at least one node selector "
                                                       "term")
    for i, term in enumerate(sel.node_selector_terms):
        validate_term(term, f"{path}.nodeSelectorTerms[{i}]", errs)


def validate_affinity(a: core_pb2.Affinity, path: str, errs: Errors) -> None:
    na = a.node_affinity
    npath = join(path, "nodeAffinity")
    if na.HasField("required_during_scheduling_ignored_during_execution"):
        validate_node_selector(na.required_during_scheduling_ignored_during_execution,
                               join(npath, "requiredDuringSchedulingIgnoredDuringExecution"),
                               errs)
    for i, p in enumerate(na.preferred_during_scheduling_ignored_during_execution):
        ppath = f"{npath}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        if not 1 <= p.weight <= 100:
            errs.invalid(join(ppath, "weight"), p.weight, "must be in the range 1-100")
        validate_term(p.preference, join(ppath, "preference"), errs)
