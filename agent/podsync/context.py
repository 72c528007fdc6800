"""What every pod worker shares: the node's ports, the status and event senders, the
local pod cache, the profile, back-offs and the runtime listings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.backoff import KeyedBackoff
from agent.config import Profile
from agent.podsync.configdata.objects import ConfigObjects
from agent.podsync.events import EventRecorder
from agent.podsync.listing import RuntimeListing
from agent.podsync.state import PodStateStore
from agent.podsync.statussync import StatusSender
from agent.ports import ApiPort, ContainerRuntimePort, ImagePort, NetworkPort, ServicesPort
from proto import core_pb2

DEFAULT_GRACE = 30


@dataclass
class SyncContext:
    runtime: ContainerRuntimePort
    images: ImagePort
    network: NetworkPort
    api: ApiPort
    statuses: StatusSender
    store: PodStateStore
    profile: Profile
    node_name: str
    host_ip: str
    clock: Callable[[], float] = time.time
    events: EventRecorder | None = None
    # the cluster's Services as this node sees them: service env, resolv.conf, hosts, the
    # drain (agent/nodeservices.py); None: none of those (tests of other parts)
    services: ServicesPort | None = None
    # metrics hook: (pod key, container name, is a restart) after each successful start
    on_container_start: Callable[[str, str, bool], None] | None = None
    crash_backoff: KeyedBackoff = field(init=False)
    pull_backoff: KeyedBackoff = field(init=False)
    listing: RuntimeListing = field(init=False)     # shared, coalesced runtime listings
    # the ConfigMaps and Secrets the node's pods use (one watch per object)
    config: ConfigObjects = field(init=False)

    def __post_init__(self) -> None:
        p = self.profile
        self.listing = RuntimeListing(self.runtime)
        self.config = ConfigObjects(self.api)
        self.crash_backoff = KeyedBackoff(p.crash_backoff_initial, p.crash_backoff_max,
                                          self.clock)
        self.pull_backoff = KeyedBackoff(p.pull_backoff_initial, p.pull_backoff_max, self.clock)


def grace_period(pod: core_pb2.Pod) -> float:
    if pod.metadata.HasField("deletion_grace_period_seconds"):
        return float(pod.metadata.deletion_grace_period_seconds)
    if pod.spec.HasField("termination_grace_period_seconds"):
        return float(pod.spec.termination_grace_period_seconds)
    return float(DEFAULT_GRACE)
