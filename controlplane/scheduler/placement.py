"""One scheduling cycle's choice: run the filter plugins over the nodes, score the
feasible ones (each scorer normalised to 0-100, weighted) and pick the best
(ties at random). A plugin that raises counts as an Error status."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .framework import (
    SUCCESS,
    Code,
    CycleState,
    FilterPlugin,
    NodeInfo,
    PodInfo,
    ScorePlugin,
    Status,
)


class Placement(NamedTuple):
    node: str | None             # None: no node fits
    score: int                   # the best node's weighted score (0-100)
    detail: str                  # per scorer, e.g. "least allocated 87, spread 100"
    reasons: Counter[str]        # why nodes were filtered out: reason -> nodes


def fit_error_message(total_nodes: int, reasons: Counter[str]) -> str:
    """Kubernetes' FitError text: '0/3 nodes are available: 2 Insufficient memory, ...'."""
    if total_nodes == 0:
        return "0/0 nodes are available: no nodes available to schedule pods."
    parts = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    detail = ", ".join(f"{n} {r}" for r, n in parts)
    return f"0/{total_nodes} nodes are available: {detail}."


def _feasible(filters: Sequence[FilterPlugin], nodes: Iterable[NodeInfo], pi: PodInfo,
              state: CycleState, reasons: Counter[str]) -> list[NodeInfo]:
    # skip filters that cannot reject this pod (e.g. NodeName without spec.nodeName)
    relevant = [f for f in filters if f.relevant(pi)]
    on_clean = [f for f in relevant if not f.passes_clean_nodes]
    feasible: list[NodeInfo] = []
    for ni in nodes:
        for f in (on_clean if ni.clean else relevant):
            try:
                st = f.filter(state, pi, ni)
            except Exception as e:
                st = Status.error(f"{f.name}: {e}", plugin=f.name)
            if st is not SUCCESS and st.code != Code.SUCCESS:
                for r in st.reasons:
                    reasons[r] += 1
                break
        else:
            feasible.append(ni)
    return feasible


def find_node(filters: Sequence[FilterPlugin], scores: Sequence[tuple[ScorePlugin, int]],
              nodes: Iterable[NodeInfo], pi: PodInfo) -> Placement:
    """Filter and score `nodes` for the pod `pi`."""
    state = CycleState()
    reasons: Counter[str] = Counter()
    feasible = _feasible(filters, nodes, pi, state, reasons)
    if not feasible:
        return Placement(None, 0, "", reasons)
    totals = [0] * len(feasible)
    parts: list[tuple[str, list[int]]] = []
    weight_sum = 0
    for plugin, weight in scores:
        if not plugin.relevant(pi):
            continue
        raw: list[int] = []
        for ni in feasible:
            try:
                sc, st = plugin.score(state, pi, ni)
            except Exception:
                sc, st = 0, Status.error("score failed")
            raw.append(sc if st is SUCCESS or st.code == Code.SUCCESS else 0)
        norm = plugin.normalize(raw)
        parts.append((plugin.description, norm))
        weight_sum += weight
        for i, sc in enumerate(norm):
            totals[i] += sc * weight
    best = max(totals)
    best_i = random.choice([i for i, t in enumerate(totals) if t == best])
    detail = ", ".join(f"{d} {norm[best_i]}" for d, norm in parts)
    return Placement(feasible[best_i].name, best // max(weight_sum, 1), detail, reasons)
