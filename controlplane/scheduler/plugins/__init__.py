"""Scheduler plugins, one per file: each exports NAME and factory(args) -> plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import (
    least_allocated,
    node_name,
    node_ready,
    node_resources_fit,
    node_selector,
    node_unschedulable,
    pod_spread,
    taint_toleration,
)

# name -> factory; the default profile's filters in the order they run
REGISTRY: dict[str, Callable[[dict[str, Any] | None], Any]] = {
    m.NAME: m.factory
    for m in (node_unschedulable, node_name, node_ready, taint_toleration, node_selector,
              node_resources_fit, least_allocated, pod_spread)
}

DEFAULT_FILTERS: tuple[str, ...] = (
    node_unschedulable.NAME, node_name.NAME, node_ready.NAME, taint_toleration.NAME,
    node_selector.NAME, node_resources_fit.NAME,
)
# (name, weight)
DEFAULT_SCORES: tuple[tuple[str, int], ...] = ((least_allocated.NAME, 1), (pod_spread.NAME, 1))
