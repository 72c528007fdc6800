"""Which local cluster a verb acts on (`--name`, else the only one), and the root
check of the verbs that change the host."""

from __future__ import annotations

import os

from localcluster import state


def require_root() -> None:
    if os.geteuid() != 0:
        raise SystemExit("error: local clusters need root (namespaces, cgroups, mounts)")


def pick(name: str | None) -> state.ClusterRecord:
    if name:
        rec = state.load(name)
        if rec is None:
            raise SystemExit(f'error: cluster "{name}" not found (corral cluster ls)')
        return rec
    all_ = state.all_clusters()
    if len(all_) == 1:
        return all_[0]
    if not all_:
        raise SystemExit("error: no local cluster: corral cluster up")
    raise SystemExit("error: several clusters: pick one with --name")
