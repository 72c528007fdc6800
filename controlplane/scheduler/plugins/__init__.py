"""Scheduler plugins, one per file: each exports NAME and factory(args) -> plugin
(a FilterPlugin or a ScorePlugin of controlplane/scheduler/framework.py)."""

from __future__ import annotations

from collections.abc import Callable

from ..framework import FilterPlugin, PluginArgs, PreBindPlugin, ScorePlugin
from . import (
    least_allocated,
    node_affinity,
    node_name,
    node_ready,
    node_resources_fit,
    node_selector,
    node_unschedulable,
    pod_spread,
    taint_toleration,
    volume_binding,
)

# name -> factory
FILTERS: dict[str, Callable[[PluginArgs], FilterPlugin]] = {
    node_unschedulable.NAME: node_unschedulable.factory,
    node_name.NAME: node_name.factory,
    node_ready.NAME: node_ready.factory,
    taint_toleration.NAME: taint_toleration.factory,
    node_selector.NAME: node_selector.factory,
    node_affinity.NAME: node_affinity.factory,
    node_resources_fit.NAME: node_resources_fit.factory,
    volume_binding.NAME: volume_binding.factory,
}
SCORES: dict[str, Callable[[PluginArgs], ScorePlugin]] = {
    least_allocated.NAME: least_allocated.factory,
    pod_spread.NAME: pod_spread.factory,
    node_affinity.NAME: node_affinity.factory,
}

# the default profile's filters in the order they run
DEFAULT_FILTERS: tuple[str, ...] = (
    node_unschedulable.NAME, node_name.NAME, node_ready.NAME, taint_toleration.NAME,
    node_selector.NAME, node_affinity.NAME, node_resources_fit.NAME, volume_binding.NAME,
)
# plugins that run between placement and the bind (one instance shared with the filter
# of the same name)
PREBINDS: dict[str, Callable[[PluginArgs], PreBindPlugin]] = {
    volume_binding.NAME: volume_binding.factory,
}
DEFAULT_PREBINDS: tuple[str, ...] = (volume_binding.NAME,)
# (name, weight)
DEFAULT_SCORES: tuple[tuple[str, int], ...] = ((least_allocated.NAME, 1), (pod_spread.NAME, 1),
                                              (node_affinity.NAME, 1))
