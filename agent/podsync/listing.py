"""Coalesced listings of the runtime's containers.

`Runtime.list()` reads a few small files and /proc for every container on
the node, so its cost grows with pods x containers. The PLEG and every pod
worker need a listing; they share them here. The rule that keeps this
level-triggered: a caller always gets a listing that *began after it asked*.
While one listing runs, everyone who asks waits for the next one, which
starts as soon as the current one ends and serves them all at once (so ten
workers that ask together cost two listings, not ten).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from agent.ports import ContainerInfo, ContainerRuntimePort


@dataclass
class Snapshot:
    """One listing: its sequence number (in start order) and the containers by pod uid."""

    seq: int
    by_pod: dict[str, list[ContainerInfo]] = field(default_factory=dict)

    def of_pod(self, uid: str) -> dict[str, list[ContainerInfo]]:
        """The pod's instances by container name, newest first."""
        by_name: dict[str, list[ContainerInfo]] = {}
        for c in self.by_pod.get(uid, []):
            by_name.setdefault(c.name, []).append(c)
        for v in by_name.values():
            v.sort(key=lambda c: (c.attempt, c.created_at), reverse=True)
        return by_name

    def all(self) -> list[ContainerInfo]:
        return [c for cs in self.by_pod.values() for c in cs]


Signature = tuple[tuple[str, str, int | None], ...]


def signature(cs: list[ContainerInfo]) -> Signature:
    """What the PLEG compares between listings: each instance's id, state, exit code."""
    return tuple(sorted((c.id, c.state, c.exit_code) for c in cs))


class RuntimeListing:
    def __init__(self, runtime: ContainerRuntimePort) -> None:
        self.runtime = runtime
        self.started = 0            # listings begun so far (the next one gets started+1)
        self.latest: Snapshot | None = None
        self._current: asyncio.Future[Snapshot] | None = None
        self._next: asyncio.Future[Snapshot] | None = None

    async def fresh(self) -> Snapshot:
        """A listing that began after this call."""
        if self._current is None:
            fut = self._begin()
        else:
            if self._next is None:
                self._next = asyncio.get_running_loop().create_future()
            fut = self._next
        return await asyncio.shield(fut)

    def _begin(self) -> asyncio.Future[Snapshot]:
        self.started += 1
        fut = asyncio.ensure_future(self._list(self.started))
        self._current = fut
        fut.add_done_callback(self._done)
        return fut

    async def _list(self, seq: int) -> Snapshot:
        snap = Snapshot(seq)
        for c in await self.runtime.list_containers():
            snap.by_pod.setdefault(c.pod_uid, []).append(c)
        return snap

    def _done(self, fut: asyncio.Future[Snapshot]) -> None:
        self._current = None
        if not fut.cancelled() and fut.exception() is None:
            snap = fut.result()
            if self.latest is None or snap.seq > self.latest.seq:
                self.latest = snap
        waiting, self._next = self._next, None
        if waiting is None:
            return
        if waiting.done():      # nobody is left to care
            return
        nxt = self._begin()

        def chain(f: asyncio.Future[Snapshot]) -> None:
            if waiting.done():
                return
            if f.cancelled():
                waiting.cancel()
            elif f.exception() is not None:
                waiting.set_exception(f.exception())    # type: ignore[arg-type]
            else:
                waiting.set_result(f.result())
        nxt.add_done_callback(chain)

    async def close(self) -> None:
        for fut in (self._current, self._next):
            if fut is not None and not fut.done():
                fut.cancel()
                with contextlib.suppress(BaseException):
                    await fut
