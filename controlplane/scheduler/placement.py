"""One scheduling cycle's choice: run the filter plugins over the nodes, score the
feasible ones (each scorer normalised to 0-100, weighted) and pick the best
(ties at random). A plugin that raises counts as an Error status.

Like kube-scheduler (percentageOfNodesToScore, adaptive), a cluster of 100 nodes
or more is not searched whole for every pod: the filters stop once
`nodes_to_find(n)` feasible nodes are found (50% of the nodes less 1% per 125
nodes, at least 5% and at least 100), and the next pod's search starts where
this one stopped, so every node gets its turn. A pod that fits nowhere still
sees every node (the FitError counts them all)."""

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
    searched: int = 0            # nodes looked at (the next search starts after them)


def fit_error_message(total_nodes: int, reasons: Counter[str]) -> str:
    """Kubernetes' FitError text: '0/3 nodes are available: 2 Insufficient memory, ...'."""
    if total_nodes == 0:
        return "0/0 nodes are available: no nodes available to schedule pods."
    parts = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    detail = ", ".join(f"{n} {r}" for r, n in parts)
    return f"0/{total_nodes} nodes are available: {detail}."


MIN_FEASIBLE_NODES = 100       # kube-scheduler's minFeasibleNodesToFind
MIN_FEASIBLE_PERCENT = 5       # minFeasibleNodesPercentageToFind


def nodes_to_find(total: int) -> int:
    """How many feasible nodes to look for among `total` (kube-scheduler's
    numFeasibleNodesToFind with the adaptive percentageOfNodesToScore)."""
    if total < MIN_FEASIBLE_NODES:
        return total
    percent = max(MIN_FEASIBLE_PERCENT, 50 - total // 125)
    return max(MIN_FEASIBLE_NODES, total * percent // 100)


def _feasible(filters: Sequence[FilterPlugin], nodes: Sequence[NodeInfo], pi: PodInfo,
              state: CycleState, reasons: Counter[str], start: int = 0,
              limit: int | None = None) -> tuple[list[NodeInfo], int]:
    """The feasible nodes, searching from `start` (wrapping) until `limit` are found;
    and how many nodes were looked at."""
    # skip filters that cannot reject this pod (e.g. NodeName without spec.nodeName)
    relevant = [f for f in filters if f.relevant(pi)]
    on_clean = [f for f in relevant if not f.passes_clean_nodes]
    feasible: list[NodeInfo] = []
    n = len(nodes)
    want = n if limit is None else limit
    seen = 0
    for k in range(n):
        if len(feasible) >= want:
            break
        ni = nodes[(start + k) % n]
        seen += 1
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
    return feasible, seen


def _raw_scores(plugin: ScorePlugin, state: CycleState, pi: PodInfo,
                feasible: Sequence[NodeInfo]) -> list[int]:
    """One scorer's raw score of each feasible node (0 where it fails)."""
    score = plugin.score
    raw: list[int] = []
    for ni in feasible:
        try:
            sc, st = score(state, pi, ni)
        except Exception:
            sc, st = 0, Status.error("score failed")
        raw.append(sc if st is SUCCESS or st.code == Code.SUCCESS else 0)
    return raw


def find_node(filters: Sequence[FilterPlugin], scores: Sequence[tuple[ScorePlugin, int]],
              nodes: Iterable[NodeInfo], pi: PodInfo, start: int = 0) -> Placement:
    """Filter and score `nodes` for the pod `pi`, searching from index `start` for
    `nodes_to_find(len(nodes))` feasible ones (Placement.searched: how many were looked
    at, where the next search starts)."""
    state = CycleState()
    reasons: Counter[str] = Counter()
    seq = nodes if isinstance(nodes, Sequence) else list(nodes)
    feasible, searched = _feasible(filters, seq, pi, state, reasons,
                                   start % len(seq) if seq else 0, nodes_to_find(len(seq)))
    if not feasible:
        return Placement(None, 0, "", reasons, searched)
    totals = [0] * len(feasible)
    parts: list[tuple[str, list[int]]] = []
    weight_sum = 0
    for plugin, weight in scores:
        if not plugin.relevant(pi):
            continue
        norm = plugin.normalize(_raw_scores(plugin, state, pi, feasible))
        parts.append((plugin.description, norm))
        weight_sum += weight
        totals = [t + sc * weight for t, sc in zip(totals, norm, strict=True)]
    best = max(totals)
    best_i = random.choice([i for i, t in enumerate(totals) if t == best])
    detail = ", ".join(f"{d} {norm[best_i]}" for d, norm in parts)
    return Placement(feasible[best_i].name, best // max(weight_sum, 1), detail, reasons,
                     searched)
