"""Leader election on an etcd lease: only the holder runs the loops.

Campaign: grant a lease of ``ttl`` seconds, then a transaction "if the
election key does not exist (create revision 0), put key=identity attached
to the lease". The winner keeps the lease alive (refresh every ttl/3); the
others watch the key and campaign again when it goes (the holder resigned,
or died and its lease expired: handover within one lease period).

Safety: a leader stops its work BEFORE its lease can have ended. Its
deadline is the start of its last *successful* refresh + ttl (the lease
cannot end before that); it cancels its work once 2/3 of the ttl has passed
since then without another success, leaving a third of the ttl as margin.
A refresh that reports the lease gone (TTL <= 0) or a key now held by
someone else stops it at once.

A failed etcd call never ends ``run()``: aetcd can raise ``CancelledError``
from a call that nobody cancelled (its gRPC channel went away under it); that
counts as a failed call like any other (refresh: step down when the margin is
gone, then campaign again). Only a cancellation of ``run()`` itself stops it.

    elector = LeaderElector(["127.0.0.1:2379"], identity="cp-1", ttl=15)
    await elector.run(work)          # forever: campaign, run work() while leader
    await elector.wait_for_leader()  # the current holder's identity (others wait here)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence

import aetcd

from controlplane.store.etcdclient import EtcdClient, EtcdTLS, split_endpoints
from controlplane.tasks import cancel_and_wait, cancelled_from_outside

log = logging.getLogger(__name__)

DEFAULT_KEY = "/corral/leader/controlplane"


class LeaderElector:
    def __init__(self, endpoints: str | Sequence[str], identity: str, *,
                 key: str = DEFAULT_KEY, ttl: int = 15, tls: EtcdTLS | None = None) -> None:
        self.endpoints = split_endpoints(endpoints if isinstance(endpoints, str)
                                         else list(endpoints))
        self.tls = tls
        if not self.endpoints:
            raise ValueError("leader election needs an etcd endpoint")
        self.identity = identity
        self.key = key.encode()
        self.ttl = max(int(ttl), 2)
        self.is_leader = False
        self.terms = 0                    # how many times we became leader
        self._client: aetcd.Client | None = None
        self._ep = 0
        self._lease: aetcd.Lease | None = None
        self._became_leader = asyncio.Event()
        self._lost = asyncio.Event()
        self._stopped = False

    # ---- etcd client -------------------------------------------------------
    async def _c(self) -> aetcd.Client:
        if self._client is None:
            # every call requires a leader: on the minority side of a partition the lease
            # refresh fails at once, and we step down before the lease can end
            self._client = EtcdClient(self.endpoints[self._ep % len(self.endpoints)],
                                      tls=self.tls, timeout=max(1, self.ttl // 3))
            await self._client.connect()
        return self._client

    async def _reset_client(self) -> None:
        c, self._client = self._client, None
        self._ep += 1
        if c is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(c.close(), 2.0)

    # ---- public ------------------------------------------------------------
    def set_endpoints(self, endpoints: Sequence[str]) -> None:
        """Follow a membership change (used from the next reconnect on)."""
        if endpoints:
            self.endpoints = list(endpoints)

    async def leader(self) -> str | None:
        """The current holder's identity, or None."""
        c = await self._c()
        got = await c.get(self.key)
        return got.value.decode() if got is not None else None

    async def wait_for_leader(self, timeout: float | None = None) -> str:
        """Wait until some replica holds the lease; its identity."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                who = await self.leader()
                if who:
                    return who
            except (Exception, asyncio.CancelledError) as e:
                if isinstance(e, asyncio.CancelledError) and cancelled_from_outside():
                    raise
                log.debug("leader lookup failed: %s", e)
                await self._reset_client()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("no leader elected")
            await self._wait_key_change(0.5)

    async def wait_until_leader(self) -> None:
        await self._became_leader.wait()

    async def run(self, work: Callable[[], Coroutine[object, object, None]]) -> None:
        """Campaign forever; run work() while leader, cancel it when leadership is lost."""
        try:
            while not self._stopped:
                try:
                    won = await self._campaign()
                except (Exception, asyncio.CancelledError) as e:
                    if isinstance(e, asyncio.CancelledError) and cancelled_from_outside():
                        raise
                    log.warning("leader election: etcd error: %r", e)
                    await self._reset_client()
                    await asyncio.sleep(min(1.0, self.ttl / 3))
                    continue
                if not won:
                    await self._wait_key_change(self.ttl / 3)
                    continue
                try:
                    await self._lead(work)
                except (Exception, asyncio.CancelledError) as e:
                    if isinstance(e, asyncio.CancelledError) and cancelled_from_outside():
                        raise
                    # the loops crashed: give the lease up (another replica may do
                    # better) and campaign again after a pause
                    log.exception("%s: the leader's work failed", self.identity)
                    await self.resign()
                    await asyncio.sleep(self.ttl / 3)
        finally:
            await self.resign()
            await self._reset_client()

    async def resign(self) -> None:
        """Give up the lease (if held) so another replica takes over at once."""
        lease, self._lease = self._lease, None
        self.is_leader = False
        if lease is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._revoke(lease), 2.0)

    async def _revoke(self, lease: aetcd.Lease) -> None:
        c = await self._c()
        await c.revoke_lease(lease.id)

    # ---- internals -----------------------------------------------------------
    async def _campaign(self) -> bool:
        c = await self._c()
        lease = await c.lease(self.ttl)
        granted_at = time.monotonic()
        ok, _ = await c.transaction(
            compare=[c.transactions.create(self.key) == 0],
            success=[c.transactions.put(self.key, self.identity.encode(), lease=lease)],
            failure=[])
        if not ok:
            with contextlib.suppress(Exception):
                await c.revoke_lease(lease.id)
            return False
        self._lease = lease
        self._granted_at = granted_at
        return True

    async def _lead(self, work: Callable[[], Coroutine[object, object, None]]) -> None:
        self.is_leader = True
        self.terms += 1
        self._became_leader.set()
        log.info("%s became leader (%s)", self.identity, self.key.decode())
        last_ok = self._granted_at  # lease valid until at least last_ok + ttl
        task: asyncio.Task[None] = asyncio.create_task(work(), name="leader-work")
        interval = self.ttl / 3
        stop_after = self.ttl * 2 / 3
        try:
            while True:
                if task.done():
                    if task.cancelled():  # not by us: we cancel it only in `finally`
                        raise RuntimeError("the leader's work was cancelled from inside")
                    task.result()  # the work ended by itself: surface errors
                    return
                await asyncio.wait({task}, timeout=min(interval, 0.5))
                now = time.monotonic()
                if now - last_ok >= interval:
                    started = time.monotonic()
                    try:
                        alive = await asyncio.wait_for(self._refresh(),
                                                       timeout=max(0.1, last_ok + stop_after
                                                                   - started))
                    except (Exception, asyncio.CancelledError) as e:
                        if isinstance(e, asyncio.CancelledError) and cancelled_from_outside():
                            raise
                        log.warning("leader lease refresh failed: %r", e)
                        alive = None
                        await self._reset_client()
                    if alive is True:
                        last_ok = started
                    elif alive is False:
                        log.warning("%s lost leadership (lease gone)", self.identity)
                        return
                if time.monotonic() - last_ok >= stop_after:
                    log.warning("%s: no lease renewal for %.1fs: stepping down",
                                self.identity, time.monotonic() - last_ok)
                    return
        finally:
            self.is_leader = False
            self._became_leader.clear()
            await cancel_and_wait([task], 5.0, "leader work")
            lease, self._lease = self._lease, None
            if lease is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._revoke(lease), 1.0)

    async def _refresh(self) -> bool:
        """True: still the holder; False: lost (lease expired or key taken)."""
        c = await self._c()
        lease = self._lease
        if lease is None:
            return False
        resp = await c.refresh_lease(lease.id)
        ttl = getattr(resp, "TTL", 1)
        if ttl is not None and int(ttl) <= 0:
            return False
        got = await c.get(self.key)
        return got is not None and got.value == self.identity.encode()

    async def _wait_key_change(self, timeout: float) -> None:
        """Wait until the election key changes or timeout (a watch, falling back to a sleep)."""
        try:
            c = await self._c()
            await asyncio.wait_for(c.watch_once(self.key, timeout=timeout), timeout + 0.5)
        except (Exception, asyncio.CancelledError) as e:
            if isinstance(e, asyncio.CancelledError) and cancelled_from_outside():
                raise
            await asyncio.sleep(0)
