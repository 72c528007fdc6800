"""Shared pieces of the benchmarks: results, statistics, machine info, the
report (table + JSON), and a local cluster that is always torn down.

Each benchmark module has ``NAME`` and ``run(quick: bool) -> BenchResult``.
"""

from __future__ import annotations

# The package: trees (which corral is measured), results (metrics, statistics),
# machine, report (table, JSON file, README block), procs (commands, memory,
# cgroups), cluster (a local cluster, pod manifests), podwatch.
from bench.common.cluster import LocalCluster, local_cluster, pod_doc
from bench.common.machine import cgroup_mode, loadavg, machine_info
from bench.common.podwatch import PodWatcher
from bench.common.procs import cpu_seconds, remove_cgroup_dirs, rss_kb, run, smaps_rollup, tree_pids
from bench.common.report import (
    BEGIN,
    END,
    README,
    RESULTS_DIR,
    latest_section,
    results_path,
    table,
    update_readme,
    write_json,
)
from bench.common.results import BenchResult, Metric, percentile, summary
from bench.common.trees import REPO, SYSTEM_REPO, child_env, system_env

__all__ = [
    "BEGIN", "END", "README", "REPO", "RESULTS_DIR", "SYSTEM_REPO", "BenchResult",
    "LocalCluster", "Metric", "PodWatcher", "cgroup_mode", "child_env", "cpu_seconds",
    "latest_section", "loadavg", "local_cluster", "machine_info", "percentile", "pod_doc",
    "remove_cgroup_dirs", "results_path", "rss_kb", "run", "smaps_rollup", "summary",
    "system_env", "table", "tree_pids", "update_readme", "write_json",
]
