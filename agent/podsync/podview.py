"""A pod worker's view of its containers as the runtime lists them.

Listings are shared by all workers (agent/podsync/listing.py). One handed over
with a wake-up (the PLEG's) serves the next pass unless this worker changed the
pod's containers after that listing began: after a start, stop or removal only
listings begun from then on show the change.
"""

from __future__ import annotations

from agent.podsync.listing import RuntimeListing, Snapshot
from agent.ports import ContainerInfo

ByName = dict[str, list[ContainerInfo]]     # container name -> instances, newest first


class PodContainers:
    def __init__(self, listing: RuntimeListing, uid: str) -> None:
        self.listing = listing
        self.uid = uid
        self._given: Snapshot | None = None
        self.min_seq = 0
        # this pass: the listing it began with, the instances it started, and whether
        # it stopped or removed any (then the next listing is read, not patched)
        self.at_start: ByName = {}
        self.started_now: list[ContainerInfo] = []
        self.relist = False

    def give(self, snapshot: Snapshot) -> None:
        """A listing that came with a wake-up; used if it is recent enough."""
        if snapshot.seq >= self.min_seq:
            self._given = snapshot

    def changed(self) -> None:
        """After a start, stop or removal: only listings begun from now on show it."""
        self.min_seq = self.listing.started + 1
        self._given = None

    async def current(self) -> ByName:
        given, self._given = self._given, None
        if given is not None and given.seq >= self.min_seq:
            return given.of_pod(self.uid)
        return (await self.listing.fresh()).of_pod(self.uid)

    def begin_sync(self) -> None:
        self.started_now, self.relist = [], False

    async def after_sync(self, by_name: ByName) -> ByName:
        """The listing after this pass's starts and stops."""
        if self.relist:
            return await self.current()
        for info in self.started_now:   # only starts (or nothing): their infos complete it
            by_name.setdefault(info.name, []).insert(0, info)
        return by_name
