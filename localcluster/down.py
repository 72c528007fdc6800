"""`corral cluster down`: remove everything a local cluster made."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from localcluster import cleanup, netns, procs, state


def down(name: str, log: Callable[[str], None]) -> bool:
    """Tear the cluster down; False if there was no such cluster."""
    rec = state.load(name)
    if rec is None:
        return False
    for node in rec.nodes:                       # agents first: they own containers
        procs.stop(node.agent_pid, timeout=5.0)
    cleanup.kill_cgroup_tree(f"corral/{rec.name}")   # shims and containers
    procs.stop(rec.registry_pid, timeout=5.0)
    procs.stop(rec.controlplane_pid, timeout=15.0)   # stops its embedded etcd
    for m in rec.controlplanes:                      # each stops its etcd member
        procs.stop(m.pid, timeout=15.0)
    cleanup.unmount_under(rec.dir)
    cleanup.remove_namespaces(f"corral-{rec.name}-")
    for node in rec.nodes:
        netns.delete_link(node.host_veth)
    for m in rec.controlplanes:
        netns.delete_link(m.host_veth)
    netns.delete_link(rec.bridge)
    cleanup.kill_cgroup_tree(f"corral/{rec.name}")
    cleanup.remove_if_empty("corral")          # shared parent of every cluster's subtree
    shutil.rmtree(rec.dir, ignore_errors=True)
    log(f'cluster "{name}" deleted')
    return True
