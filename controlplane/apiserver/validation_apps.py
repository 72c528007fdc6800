"""Validation of apps/v1 Deployments and ReplicaSets, and the selector, template and
int-or-percent checks the other apps/v1 kinds share (validation_workloads.py)."""

from __future__ import annotations

import re

from controlplane.apiserver.validation_pod import validate_pod_spec
from controlplane.apiserver.validation_util import Errors, join
from proto import apps_pb2, core_pb2, labels, meta_pb2

STRATEGY_TYPES = ("Recreate", "RollingUpdate")
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_PERCENT_RE = re.compile(r"^[0-9]+%$")


def validate_selector(sel: meta_pb2.LabelSelector, path: str, errs: Errors) -> bool:
    """Check a LabelSelector's syntax; True when it is usable for matching."""
    before = len(errs)
    errs.labels(join(path, "matchLabels"), sel.match_labels)
    for i, e in enumerate(sel.match_expressions):
        ep = f"{path}.matchExpressions[{i}]"
        if not e.key:
            errs.required(join(ep, "key"))
        else:
            errs.qualified_name(join(ep, "key"), e.key)
        if not e.operator:
            errs.required(join(ep, "operator"))
        elif e.operator not in SELECTOR_OPERATORS:
            errs.unsupported(join(ep, "operator"), e.operator, SELECTOR_OPERATORS)
        elif e.operator in ("In", "NotIn") and not e.values:
            errs.required(join(ep, "values"), "must be specified when `operator` is 'In' or "
                                              "'NotIn'")
        elif e.operator in ("Exists", "DoesNotExist") and e.values:
            errs.forbidden(join(ep, "values"), "may not be specified when `operator` is "
                                               "'Exists' or 'DoesNotExist'")
        for j, v in enumerate(e.values):
            for msg in labels.label_value_errors(v):
                errs.invalid(f"{ep}.values[{j}]", v, msg)
    return len(errs) == before


def selector_and_template(selector: meta_pb2.LabelSelector, has_selector: bool,
                           template: core_pb2.PodTemplateSpec, path: str, what: str,
                           errs: Errors) -> None:
    spath = join(path, "selector")
    if not has_selector:
        errs.required(spath)
    elif not selector.match_labels and not selector.match_expressions:
        errs.invalid(spath, {}, f"empty selector is invalid for {what}")
    elif validate_selector(selector, spath, errs):
        sel = labels.from_label_selector(selector)
        if not sel.matches(template.metadata.labels):
            errs.invalid(join(path, "template.metadata.labels"),
                         dict(template.metadata.labels),
                         "`selector` does not match template `labels`")
    tpath = join(path, "template")
    errs.labels(join(tpath, "metadata.labels"), template.metadata.labels)
    validate_pod_spec(template.spec, join(tpath, "spec"), errs)
    if template.spec.restart_policy not in ("", "Always"):
        errs.unsupported(join(tpath, "spec.restartPolicy"), template.spec.restart_policy,
                         ("Always",))
    if template.spec.HasField("active_deadline_seconds"):
        errs.forbidden(join(tpath, "spec.activeDeadlineSeconds"),
                       "activeDeadlineSeconds in ReplicaSet is not Supported")


def _replicas(spec: apps_pb2.DeploymentSpec | apps_pb2.ReplicaSetSpec, path: str,
              errs: Errors) -> None:
    if spec.HasField("replicas"):
        errs.non_negative(join(path, "replicas"), spec.replicas)
    errs.non_negative(join(path, "minReadySeconds"), spec.min_ready_seconds)


def validate_replicaset(rs: apps_pb2.ReplicaSet, errs: Errors) -> None:
    _replicas(rs.spec, "spec", errs)
    selector_and_template(rs.spec.selector, rs.spec.HasField("selector"), rs.spec.template,
                           "spec", "replicaset", errs)


def int_or_percent(v: meta_pb2.IntOrString, path: str, errs: Errors) -> int | None:
    """The int, or the percentage, of an IntOrString; None (and errors) when invalid."""
    which = v.WhichOneof("value")
    if which is None:
        return 0
    if which == "int_val":
        if v.int_val < 0:
            errs.invalid(path, v.int_val, "must be greater than or equal to 0")
            return None
        return v.int_val
    if not _PERCENT_RE.match(v.str_val):
        errs.invalid(path, v.str_val,
                     "a valid percent string must be a numeric string followed by an ending "
                     "'%' (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')")
        return None
    return int(v.str_val[:-1])


def validate_deployment(d: apps_pb2.Deployment, errs: Errors) -> None:
    s = d.spec
    _replicas(s, "spec", errs)
    selector_and_template(s.selector, s.HasField("selector"), s.template, "spec",
                           "deployment", errs)
    if s.HasField("revision_history_limit"):
        errs.non_negative("spec.revisionHistoryLimit", s.revision_history_limit)
    if s.HasField("progress_deadline_seconds"):
        errs.non_negative("spec.progressDeadlineSeconds", s.progress_deadline_seconds)
        if s.progress_deadline_seconds <= s.min_ready_seconds:
            errs.invalid("spec.progressDeadlineSeconds", s.progress_deadline_seconds,
                         "must be greater than minReadySeconds")
    st = s.strategy
    errs.enum("spec.strategy.type", st.type, STRATEGY_TYPES)
    if st.type == "Recreate" and st.HasField("rolling_update"):
        errs.forbidden("spec.strategy.rollingUpdate",
                       "may not be specified when strategy `type` is 'Recreate'")
    if st.type in ("", "RollingUpdate") and st.HasField("rolling_update"):
        ru = st.rolling_update
        base = "spec.strategy.rollingUpdate"
        unavailable = int_or_percent(ru.max_unavailable, join(base, "maxUnavailable"), errs)
        surge = int_or_percent(ru.max_surge, join(base, "maxSurge"), errs)
        if (unavailable is not None and ru.max_unavailable.WhichOneof("value") == "str_val"
                and unavailable > 100):
            errs.invalid(join(base, "maxUnavailable"), ru.max_unavailable.str_val,
                         "must not be greater than 100%")
        if unavailable == 0 and surge == 0:
            errs.invalid(join(base, "maxUnavailable"), _ios(ru.max_unavailable),
                         "may not be 0 when `maxSurge` is 0")


def _ios(v: meta_pb2.IntOrString) -> int | str:
    return v.int_val if v.WhichOneof("value") == "int_val" else v.str_val


def validate_apps_update(new: apps_pb2.Deployment | apps_pb2.ReplicaSet,
                         old: apps_pb2.Deployment | apps_pb2.ReplicaSet, errs: Errors) -> None:
    """apps/v1: the selector may not change."""
    if new.spec.selector != old.spec.selector:
        errs.invalid("spec.selector", show_selector(new.spec.selector), "field is immutable")


def show_selector(sel: meta_pb2.LabelSelector) -> str:
    try:
        return str(labels.from_label_selector(sel))
    except labels.SelectorError:
        return str(dict(sel.match_labels))
