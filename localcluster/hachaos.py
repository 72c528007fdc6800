"""Chaos verbs for a highly available local cluster (`cluster up --control-planes 3`):

    corral chaos kill-controlplane cp-1      # SIGKILL a member's control plane (and so
                                             # its etcd); restarted after 1 s like systemd
    corral chaos kill-controlplane leader    # the member running the loops
    corral chaos kill-etcd-member etcd-leader   # SIGKILL only its etcd (the member restarts it)
    corral chaos partition-controlplane cp-2 # cut a member off from the other members
    corral chaos heal-controlplane cp-2      #   (its clients still reach it)

Each narrates (leaders, member health, writes through the API) and reports the time
until the control plane is whole again and the workloads converged, like the other
verbs (localcluster/chaos.py).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from controlplane import profiles
from corral import credentials as cli_credentials
from localcluster import chaos, netns, observe, observemembers, procs, state, up
from localcluster import members as cpmembers
from proto import api_pb2_grpc


def _require_ha(rec: state.ClusterRecord) -> None:
    if not rec.controlplanes:
        raise chaos.ChaosError(f'cluster "{rec.name}" has one control plane: these verbs need '
                               "`corral cluster up --control-planes 3`")


def member(rec: state.ClusterRecord, target: str) -> state.ControlPlaneRecord:
    """A member by name (cp-2), number (2), `leader` (the loops') or `etcd-leader`."""
    _require_ha(rec)
    name = target if target.startswith("cp-") else f"cp-{target}" if target.isdigit() else ""
    if target in ("leader", "etcd-leader"):
        with cli_credentials.secure_channel(rec.server, up.admin_credentials(rec)) as ch:
            lst = observemembers.snapshot(api_pb2_grpc.ApiStub(ch))
        if lst is None:
            raise chaos.ChaosError("cannot ask the control plane who leads")
        name = lst.loops_leader if target == "leader" else observemembers.etcd_leader(lst)
    for m in rec.controlplanes:
        if m.name == name:
            return m
    raise chaos.ChaosError(f'no control-plane member "{target}" in cluster "{rec.name}" '
                           f"(members: {', '.join(m.name for m in rec.controlplanes)}; or "
                           "leader, etcd-leader)")


def kill_controlplane(rec: state.ClusterRecord, m: state.ControlPlaneRecord,
                      restart_after: float | None, log: Callable[[str], None]) -> str:
    if not procs.alive(m.pid):
        raise chaos.ChaosError(f"the control plane of {m.name} is not running")
    pid = m.pid
    os.kill(pid, signal.SIGKILL)       # its etcd follows (PR_SET_PDEATHSIG)
    procs.wait_for(lambda: not procs.alive(pid), 5)
    log(f"  +  0.0 s  killed the control plane of {m.name} (PID {pid}) and with it its "
        "etcd member")
    if restart_after is None:
        return f"{m.name} stays down (corral chaos restart-controlplane {m.name})"
    time.sleep(restart_after)          # the supervisor's restart delay, part of the fault
    cpmembers.start(rec, m, up.join_token(rec))
    rec.save()
    return f"restarted the control plane of {m.name} (PID {m.pid}) after {restart_after:.0f} s"


def restart_controlplane(rec: state.ClusterRecord, m: state.ControlPlaneRecord) -> str:
    if procs.alive(m.pid):
        raise chaos.ChaosError(f"the control plane of {m.name} is running (PID {m.pid})")
    cpmembers.start(rec, m, up.join_token(rec))
    rec.save()
    return f"started the control plane of {m.name} (PID {m.pid})"


def etcd_pid(m: state.ControlPlaneRecord) -> int:
    pid = procs.child_running(m.pid, b"etcd")
    if not pid:
        raise chaos.ChaosError(f"no etcd running under the control plane of {m.name}")
    return pid


def kill_etcd_member(rec: state.ClusterRecord, m: state.ControlPlaneRecord) -> str:
    pid = etcd_pid(m)
    os.kill(pid, signal.SIGKILL)
    return f"killed the etcd member of {m.name} (PID {pid}); its control plane restarts it"


def partition(rec: state.ClusterRecord, m: state.ControlPlaneRecord, heal: bool = False) -> str:
    others = [o for o in rec.controlplanes if o is not m]
    netns.set_blackholes(m.netns, [o.ip for o in others], on=not heal)
    for o in others:
        netns.set_blackholes(o.netns, [m.ip], on=not heal)
    if heal:
        return f"healed: {m.name} reaches the other members again"
    return (f"cut {m.name} off from {', '.join(o.name for o in others)} (nodes and clients "
            "still reach it)")


def run(rec: state.ClusterRecord, action: Callable[[], str], log: Callable[[str], None],
        healthy: set[str], timeout: float = 120.0, avoid_leader: str = "",
        comeback_after: float | None = None) -> float | None:
    """Inject, narrate, and return seconds until the control plane is whole and the
    workloads converged (None: not within `timeout`)."""
    t0 = time.monotonic()
    creds = up.admin_credentials(rec)
    with cli_credentials.secure_channel(rec.server, creds) as ch:
        before = observemembers.snapshot(api_pb2_grpc.ApiStub(ch))
    timeline = observe.Timeline(rec.server, t0, log, creds).start()
    probe = observemembers.WriteProbe(rec.server, creds, t0, log).start()
    try:
        said = action()           # stamped when it is done (a restart comes after a delay)
        log(f"  +{time.monotonic() - t0:5.1f} s  {said}")
        took = observemembers.wait_members(rec.server, creds, t0, log, healthy, timeout,
                                           avoid_leader=avoid_leader,
                                           comeback_after=comeback_after, before=before)
        if took is not None:
            took = observe.wait_converged(rec.server, t0, log, diverge_within=1.0,
                                          timeout=max(1.0, timeout - took), credentials=creds)
    finally:
        probe.stop()
        timeline.stop()
    log(probe.summary())
    if took is None:
        log(f"not converged after {timeout:.0f} s")
    return took


def lease_ttl(rec: state.ClusterRecord) -> float:
    """The loops' leader lease of the cluster's profile (s): a killed leader's lease ends
    this long after its last renewal."""
    return float(profiles.get(rec.profile).leader_lease_ttl)
