"""Adding and removing a control-plane member of a running highly available local
cluster: `corral cluster add-controlplane` and `corral cluster remove-controlplane cp-3`
(the members themselves: localcluster/members.py)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

from corral.client import Client
from localcluster import members, procs, state, up


def add(rec: state.ClusterRecord, node_token: str, log: Callable[[str], None],
        timeout: float = 90.0) -> state.ControlPlaneRecord:
    """One more member (`corral cluster add-controlplane`): it joins like any, and the
    command returns once etcd made it a voting member and its API serves."""
    if not rec.controlplanes:
        raise ValueError(f'cluster "{rec.name}" has one control plane outside the members\' '
                         "layout: make highly available clusters with --control-planes 3")
    m = members.next_member(rec)
    rec.controlplanes.append(m)
    rec.save()                     # from here on `cluster down` removes it too
    t0 = time.monotonic()
    members.start(rec, m, node_token)
    rec.save()

    def joined() -> bool:
        members.alive_check(rec)
        return members.healthy(rec.server, up.admin_credentials(rec), {m.name})

    if not procs.wait_for(joined, timeout, interval=0.5):
        raise RuntimeError(f"{m.name} did not join within {timeout:.0f} s; see "
                           f"{rec.dir}/logs/controlplane-{m.name}.log")
    log(f"control-plane member {m.name} joined ({m.ip}) in {time.monotonic() - t0:.1f} s; "
        "agents started before know only the members they were given")
    return m


def remove(rec: state.ClusterRecord, name: str, log: Callable[[str], None]) -> None:
    """`corral cluster remove-controlplane NAME`: the order of docs/operations.md —
    remove it from etcd (through the API), let its control plane stop, then its
    namespace and data dir."""
    m = next((x for x in rec.controlplanes if x.name == name), None)
    if m is None:
        raise ValueError(f'no control-plane member "{name}" (members: '
                         f"{', '.join(x.name for x in rec.controlplanes)})")
    others = [x for x in rec.controlplanes if x is not m]
    servers = ",".join(f"{x.ip}:{members.API_PORT}" for x in others)
    with Client(servers, up.admin_credentials(rec)) as c:
        c.remove_controlplane(name)
    log(f"removed {name} from etcd")
    if not members.wait_exit(m, 30):
        log(f"{name}'s control plane did not stop by itself: stopping it")
    members.stop(m)
    members.remove_network(m)
    shutil.rmtree(m.data_dir, ignore_errors=True)
    rec.controlplanes.remove(m)
    rec.save()
    log(f"control-plane member {name} removed; {len(others)} remain")
