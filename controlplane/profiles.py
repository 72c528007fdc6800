"""Timing profiles for the control loops and the agents.

A profile fixes how fast the cluster notices a lost node and how fast it acts.
``default`` follows Kubernetes; ``demo`` is tuned for demos and tests, where a
node "dies" on purpose and the audience should not wait five minutes.

=====================  =========  ========  ======================  ==============  =============
setting                 default    demo      Kubernetes              Nomad           Swarm
=====================  =========  ========  ======================  ==============  =============
heartbeat (lease renew) 10 s       0.5 s     10 s (node lease)       ~10 s (TTL)     5 s
node grace (-> Unknown) 40 s       2 s       40 s (50 s in 1.32+)    ~20 s missed    ~15 s (3x5 s)
eviction after NotReady 300 s      1 s       300 s (toleration)      on node down    at once
total to reschedule     ~340 s     ~3-4 s    ~340-350 s              ~20 s           ~15 s
restart back-off        10 s->300  1 s->10   10 s doubling to 300 s  policy-driven   policy-driven
=====================  =========  ========  ======================  ==============  =============

Kubernetes waits 40-50 s before marking a node NotReady and another 300 s before
evicting (the default ``tolerationSeconds`` of the unreachable taint), so a
lost node's pods come back after about six minutes. Nomad declares a client
down after its heartbeat TTL (~20 s) and reschedules at once; Docker Swarm
marks a node down after three missed 5 s heartbeats (~15 s) and reschedules
its tasks immediately. corral's ``default`` is Kubernetes' conservative
choice (a network blip must not reshuffle the cluster); ``demo`` is
Swarm-like. Its grace is four heartbeats, as Kubernetes' 40 s is four 10 s
renewals: a node goes NotReady only after it missed three in a row (an agent
or control plane stalled 1.5 s on a loaded machine is still fine), and a
node that lapses is read once more from the API before it is declared lost.
The agent's own copy of the heartbeat period is in ``agent/config.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    name: str
    heartbeat_interval: float         # agent renews its node Lease this often (s)
    node_grace_period: float          # lease older than this -> Ready=Unknown (s)
    pod_eviction_timeout: float       # NotReady this long -> pods deleted (s)
    node_monitor_period: float        # how often the node lifecycle controller looks (s)
    restart_backoff_initial: float    # container restart back-off start (s)
    restart_backoff_max: float        # ... doubling up to this (s)
    leader_lease_ttl: int             # leader election etcd lease TTL (s)
    resync_period: float              # informer resync (s)
    unschedulable_flush: float        # unschedulable pods retried at least this often (s)
    schedule_backoff_initial: float   # scheduler per-pod back-off start (s)
    schedule_backoff_max: float       # ... up to (s)
    workqueue_backoff_initial: float  # controller per-key error back-off start (s)
    workqueue_backoff_max: float      # ... up to (s)

    def with_(self, **changes: object) -> Profile:
        """A copy with some settings changed (tests tune one timing at a time)."""
        return replace(self, **changes)  # type: ignore[arg-type]


DEFAULT = Profile(
    name="default",
    heartbeat_interval=10.0,
    node_grace_period=40.0,
    pod_eviction_timeout=300.0,
    node_monitor_period=5.0,
    restart_backoff_initial=10.0,
    restart_backoff_max=300.0,
    leader_lease_ttl=15,
    resync_period=300.0,
    unschedulable_flush=60.0,
    schedule_backoff_initial=1.0,
    schedule_backoff_max=10.0,
    workqueue_backoff_initial=0.005,
    workqueue_backoff_max=300.0,
)

DEMO = Profile(
    name="demo",
    heartbeat_interval=0.5,
    node_grace_period=2.0,
    pod_eviction_timeout=1.0,
    node_monitor_period=0.5,
    restart_backoff_initial=1.0,
    restart_backoff_max=10.0,
    leader_lease_ttl=3,
    resync_period=30.0,
    unschedulable_flush=5.0,
    schedule_backoff_initial=0.2,
    schedule_backoff_max=2.0,
    workqueue_backoff_initial=0.005,
    workqueue_backoff_max=5.0,
)

PROFILES: dict[str, Profile] = {"default": DEFAULT, "demo": DEMO}


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r} (known: {', '.join(sorted(PROFILES))})"
        ) from None
