"""The control loops of one control-plane replica: leader election, then the
scheduler and the controllers, sharing one set of informers.

    await run_loops(client, identity="cp-1", profile=profiles.DEMO,
                    store_endpoints=["127.0.0.1:2379"])

`client` is what the loops read and write through (controlplane/client.py; in
corral-controlplane the in-process Registry). The lease of the leader election
lives in the etcd at `store_endpoints`; without them, or with
``leader_election=False``, the loops run at once without election (a single
replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
from collections.abc import Callable, Sequence, Sized
from dataclasses import dataclass, field

from controlplane import events, profiles
from controlplane.client import Client
from controlplane.controllers.cronjob import CronJobController
from controlplane.controllers.daemonset import DaemonSetController
from controlplane.controllers.deployment import DeploymentController
from controlplane.controllers.endpoints import EndpointsController
from controlplane.controllers.gc import GarbageCollector
from controlplane.controllers.job import JobController
from controlplane.controllers.nodeipam import NodeIpamController
from controlplane.controllers.nodelifecycle import NodeLifecycleController
from controlplane.controllers.replicaset import ReplicaSetController
from controlplane.controllers.statefulset import StatefulSetController
from controlplane.controllers.volumes import VolumeController
from controlplane.informer import InformerFactory
from controlplane.leader import DEFAULT_KEY, LeaderElector
from controlplane.scheduler.scheduler import Scheduler
from controlplane.store.etcdclient import EtcdTLS
from controlplane.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass
class Loops:
    """Everything one leader term runs (exposed for tests and metrics)."""

    factory: InformerFactory
    scheduler: Scheduler
    replicasets: ReplicaSetController
    deployments: DeploymentController
    nodes: NodeLifecycleController
    gc: GarbageCollector
    ipam: NodeIpamController
    endpoints: EndpointsController
    jobs: JobController
    cronjobs: CronJobController
    daemonsets: DaemonSetController
    statefulsets: StatefulSetController
    volumes: VolumeController
    recorders: list[events.EventRecorder] = field(default_factory=list)

    def queues(self) -> dict[str, Sized]:
        """Each loop's work queue by name (the metrics report their depths)."""
        return {"scheduler": self.scheduler.queue, "replicasets": self.replicasets.queue,
                "deployments": self.deployments.queue, "nodes": self.nodes.queue,
                "gc": self.gc.queue, "ipam": self.ipam.queue, "endpoints": self.endpoints.queue,
                "jobs": self.jobs.queue, "cronjobs": self.cronjobs.queue,
                "daemonsets": self.daemonsets.queue, "statefulsets": self.statefulsets.queue,
                "volumes": self.volumes.queue}

    async def run(self) -> None:
        self.factory.start()
        freeze = asyncio.create_task(_freeze_when_synced(self.factory))
        tasks = [asyncio.create_task(c.run(), name=n) for n, c in (
            ("scheduler", self.scheduler), ("replicaset", self.replicasets),
            ("deployment", self.deployments), ("nodelifecycle", self.nodes),
            ("gc", self.gc), ("nodeipam", self.ipam), ("endpoints", self.endpoints),
            ("job", self.jobs),
            ("cronjob", self.cronjobs), ("daemonset", self.daemonsets),
            ("statefulset", self.statefulsets), ("volumes", self.volumes))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()
        finally:
            await cancel_and_wait([*tasks, freeze], 5.0, "loop")
            await self.factory.stop()
            for r in self.recorders:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(r.flush(), 1.0)
                await r.close()


async def _freeze_when_synced(factory: InformerFactory) -> None:
    """Once the informers hold the cluster, move every object alive into the garbage
    collector's permanent generation (gc.freeze): a full collection then no longer
    walks the caches (with 30,000 pods one took ~0.25 s of CPU, stalling the API).
    Objects are still freed by reference counting; only cycles among them are not."""
    await factory.wait_synced()
    gc.freeze()
    log.info("informers synced: %d objects moved out of the garbage collector's way",
             gc.get_freeze_count())


def build_loops(client: Client, *, identity: str, profile: profiles.Profile,
                cluster_cidr: str = "10.244.0.0/16", node_cidr_mask: int = 24) -> Loops:
    factory = InformerFactory(client, resync_period=profile.resync_period)
    rec = {n: events.EventRecorder(client, n, identity) for n in (
        "default-scheduler", "replicaset-controller", "deployment-controller",
        "node-controller", "garbage-collector", "node-ipam-controller", "job-controller",
        "cronjob-controller", "daemonset-controller",
        "statefulset-controller", "persistentvolume-controller")}
    return Loops(
        factory=factory,
        scheduler=Scheduler(client, factory, profile=profile, recorder=rec["default-scheduler"]),
        replicasets=ReplicaSetController(client, factory, profile=profile,
                                         recorder=rec["replicaset-controller"]),
        deployments=DeploymentController(client, factory, profile=profile,
                                         recorder=rec["deployment-controller"]),
        nodes=NodeLifecycleController(client, factory, profile=profile,
                                      recorder=rec["node-controller"]),
        gc=GarbageCollector(client, factory, recorder=rec["garbage-collector"],
                            backoff_initial=profile.workqueue_backoff_initial,
                            backoff_max=min(profile.workqueue_backoff_max, 5.0)),
        ipam=NodeIpamController(client, factory, cluster_cidr=cluster_cidr,
                                node_mask=node_cidr_mask, recorder=rec["node-ipam-controller"]),
        endpoints=EndpointsController(client, factory, profile=profile),
        jobs=JobController(client, factory, profile=profile, recorder=rec["job-controller"]),
        cronjobs=CronJobController(client, factory, recorder=rec["cronjob-controller"],
                                   backoff_initial=profile.workqueue_backoff_initial,
                                   backoff_max=min(profile.workqueue_backoff_max, 5.0)),
        daemonsets=DaemonSetController(client, factory, profile=profile,
                                       recorder=rec["daemonset-controller"]),
        statefulsets=StatefulSetController(client, factory, profile=profile,
                                           recorder=rec["statefulset-controller"]),
        volumes=VolumeController(client, factory, profile=profile,
                                 recorder=rec["persistentvolume-controller"]),
        recorders=list(rec.values()))


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def run_loops(client: Client, *, identity: str | None = None,
                    profile: profiles.Profile | str = "default",
                    store_endpoints: Sequence[str] | str | None = None,
                    leader_election: bool = True, leader_key: str = DEFAULT_KEY,
                    cluster_cidr: str = "10.244.0.0/16", node_cidr_mask: int = 24,
                    on_loops: Callable[[Loops], None] | None = None,
                    elector_out: list[LeaderElector] | None = None,
                    etcd_tls: EtcdTLS | None = None) -> None:
    """Run until cancelled: win the election, then the scheduler and controllers.

    store_endpoints: etcd's ("h1:p1,h2:p2" or a list), where the leader lease is.
    on_loops is called with each new leader term's Loops (the metrics and tests
    look inside); elector_out receives the LeaderElector (tests use it to wait
    for/inspect leadership); etcd_tls: the client certificate for https endpoints.
    """
    prof = profiles.get(profile) if isinstance(profile, str) else profile
    me = identity or default_identity()
    if isinstance(store_endpoints, str):
        store_endpoints = [e for e in store_endpoints.split(",") if e]
    endpoints = list(store_endpoints or ())

    async def work() -> None:
        loops = build_loops(client, identity=me, profile=prof,
                            cluster_cidr=cluster_cidr, node_cidr_mask=node_cidr_mask)
        if on_loops is not None:
            on_loops(loops)
        log.info("%s: running scheduler and controllers (profile %s)", me, prof.name)
        await loops.run()

    if not leader_election or not endpoints:
        await work()
        return
    elector = LeaderElector(endpoints, me, key=leader_key, ttl=prof.leader_lease_ttl,
                            tls=etcd_tls)
    if elector_out is not None:
        elector_out.append(elector)
    await elector.run(work)
