"""Watch fan-out: ONE etcd watch per resource, shared by every watcher.

The fan-out starts lazily at the current etcd revision and keeps the last
`history` events in memory. A watcher resuming from revision R gets:

- R within the buffer (R >= covered_from): buffered events after R, then live ones;
- R older: the gap (R, covered_from] from etcd with a short-lived catch-up
  watch (start_revision=R+1), which ends as soon as it reaches the fan-out;
  if etcd compacted R away: errors.Gone ("too old resource version").

Each watcher has its own queue; one that falls too far behind is detached
and transparently resubscribed from the last revision it consumed. If the
etcd watch breaks (etcd down), the fan-out reopens it from the next revision
with back-off; watchers see a pause, not an error. Unless our etcd member has
no leader (it is cut off from the majority, controlplane/store/etcdclient.py):
then every watcher ends with errors.NoLeader, and new ones are refused until
the watch is back, so that clients watch through another control plane
instead of waiting on silence that looks like "no changes". etcd's progress
notifications reach watchers as BOOKMARK events (key "": every event up to
that revision was delivered), so idle watchers keep a fresh resourceVersion.

Event objects are shared between watchers: treat them as read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
from aetcd import rpc

from controlplane import errors
from controlplane.store.etcdclient import is_no_leader
from controlplane.store.etcdio import Compacted, Connection
from controlplane.tasks import cancelled_from_outside
from proto import api_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreEvent:
    type: str                          # ADDED, MODIFIED, DELETED, BOOKMARK (key "")
    object: api_pb2.Object             # for DELETED: the last state, at the deletion revision
    revision: int
    key: str
    given_prev: api_pb2.Object | None = None
    # or the state before decoded when first asked for: only watchers with selectors
    # look at it, so most events never pay for a second decode
    load_prev: Callable[[], api_pb2.Object] | None = None

    @functools.cached_property
    def prev(self) -> api_pb2.Object | None:
        """The state before (MODIFIED, DELETED), if etcd sent it."""
        if self.given_prev is None and self.load_prev is not None:
            return self.load_prev()
        return self.given_prev


Decoder = Callable[[rpc.Event], StoreEvent | None]   # None: an event to skip (logged)
BOOKMARK = "BOOKMARK"  # no change: every event up to `revision` has been delivered


class _Overflow:
    """A watcher's queue overflowed: it resubscribes (and catches up from the buffer)."""


_OVERFLOW = _Overflow()
# what a watcher's queue holds: events, the error that ends its stream, or _OVERFLOW
_Item = StoreEvent | errors.ApiError | _Overflow


class _Sub:
    def __init__(self, after: int, limit: int) -> None:
        self.after = after
        self.limit = limit
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.dead = False

    def push(self, item: _Item) -> None:
        if self.dead:
            return
        if isinstance(item, StoreEvent) and item.revision <= self.after:
            return
        if self.queue.qsize() >= self.limit:
            self.dead = True
            while not self.queue.empty():
                self.queue.get_nowait()
            item = _OVERFLOW
        self.queue.put_nowait(item)


class Fanout:
    """The shared watch of one resource (every namespace)."""

    def __init__(self, conn: Connection, resource: str, key_prefix: bytes, decode: Decoder,
                 make_bookmark: Callable[[int], api_pb2.Object],
                 history: int = 1000, queue_limit: int = 10000) -> None:
        self.conn = conn
        self.resource = resource
        self.key_prefix = key_prefix
        self.decode = decode
        self.make_bookmark = make_bookmark
        self.history = history
        self.queue_limit = queue_limit
        self.buffer: deque[StoreEvent] = deque()
        self.covered_from = 0   # every event after this revision is in buffer (or coming)
        self.last_seen = 0      # highest revision the etcd watch has reported
        self._subs: set[_Sub] = set()
        self.cut_off: errors.NoLeader | None = None   # set while our member has no leader
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _ensure_started(self) -> None:
        async with self._lock:
            if self._task is None or self._task.done():
                self.covered_from = self.last_seen = await self.conn.revision()
                self.buffer.clear()
                self._task = asyncio.get_running_loop().create_task(
                    self._run(), name=f"watch-fanout-{self.resource}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for sub in list(self._subs):
            sub.push(errors.Unavailable("the store is shutting down"))
        self._subs.clear()

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                async for progress, events in self.conn.watch(self.key_prefix,
                                                              self.last_seen + 1):
                    delay = 0.1
                    self.cut_off = None
                    if progress > self.last_seen:
                        self.last_seen = progress
                        self._progress(progress)
                    for raw in events:
                        ev = self.decode(raw)
                        if ev is not None:
                            self._publish(ev)
            except Compacted as e:
                log.warning("%s watch fell behind a compaction (%s); watchers must relist",
                            self.resource, e)
                gone = errors.Gone(f"too old resource version: {e}; relist")
                for sub in list(self._subs):
                    sub.push(gone)
                self._subs.clear()
                self.buffer.clear()
                try:
                    self.covered_from = self.last_seen = await self.conn.revision()
                except errors.ApiError:
                    pass
            except asyncio.CancelledError as e:
                if cancelled_from_outside():
                    raise
                log.warning("etcd watch on %s cancelled under us (%s); reopening from "
                            "revision %d", self.resource, e, self.last_seen + 1)
            except Exception as e:  # etcd down, or anything else: reopen, never die
                if is_no_leader(e):
                    self._refuse(e)
                log.warning("etcd watch on %s broke (%s); reopening from revision %d",
                            self.resource, e, self.last_seen + 1)
                if isinstance(e, grpc.aio.AioRpcError | errors.Unavailable):
                    self.conn.failover()
            await asyncio.sleep(delay)  # retry back-off, not synchronisation
            delay = min(delay * 2, 2.0)

    def _refuse(self, e: Exception) -> None:
        """Our member has no leader: end every watcher (they resume elsewhere)."""
        if self.cut_off is None:
            log.warning("etcd has no leader here: ending the %d %s watchers", len(self._subs),
                        self.resource)
        self.cut_off = errors.NoLeader(
            f"watching {self.resource}: this control plane's etcd member has no leader "
            f"({e}); watch through another control-plane member")
        for sub in list(self._subs):
            sub.push(self.cut_off)
        self._subs.clear()

    def _publish(self, ev: StoreEvent) -> None:
        self.last_seen = max(self.last_seen, ev.revision)
        self.buffer.append(ev)
        while len(self.buffer) > self.history:
            old = self.buffer.popleft()
            self.covered_from = max(self.covered_from, old.revision)
            while self.buffer and self.buffer[0].revision == old.revision:
                self.buffer.popleft()
        for sub in list(self._subs):
            sub.push(ev)
            if sub.dead:
                self._subs.discard(sub)

    def _progress(self, revision: int) -> None:
        """etcd says every event up to `revision` was sent: tell the watchers (bookmarks)."""
        mark = StoreEvent(BOOKMARK, self.make_bookmark(revision), revision, "")
        for sub in list(self._subs):
            sub.push(mark)
            if sub.dead:
                self._subs.discard(sub)

    def _subscribe(self, after: int) -> _Sub:
        # No await here: copying the buffer and joining the live set is atomic.
        sub = _Sub(after, self.queue_limit)
        for ev in self.buffer:
            sub.push(ev)
        self._subs.add(sub)
        return sub

    async def _catch_up(self, after: int, boundary: int) -> AsyncIterator[StoreEvent]:
        """Events in (after, boundary] straight from etcd's history.

        Ends at the first event past `boundary`, or with a BOOKMARK at `boundary`
        when etcd reports progress past it with no such event.
        """
        last = after
        try:
            async for progress, events in self.conn.watch(self.key_prefix, after + 1):
                for raw in events:
                    ev = self.decode(raw)
                    if ev is None:
                        continue
                    if ev.revision > boundary:
                        return
                    last = ev.revision
                    yield ev
                if progress >= boundary:
                    if last < boundary:
                        yield StoreEvent(BOOKMARK, self.make_bookmark(boundary), boundary, "")
                    return
        except Compacted as e:
            raise errors.Gone(
                f"too old resource version: {after} ({e}); relist and watch again") from e
        except grpc.aio.AioRpcError as e:
            raise self.conn.translate(e, f"watching {self.resource}") from e

    async def stream(self, after: int) -> AsyncIterator[StoreEvent]:
        """Every event of the resource with revision > `after`, forever.

        One etcd transaction can write several objects (batched binds, events):
        their events share its revision. A watcher resubscribed in the middle of
        one resumes inside it (`at_last` of its events were yielded), not after it.
        """
        last, at_last = after, 0
        while True:
            await self._ensure_started()
            if self.cut_off is not None:
                raise self.cut_off
            boundary = self.covered_from
            resume, skip = (last - 1, at_last) if at_last else (last, 0)
            sub = self._subscribe(max(resume, boundary))
            try:
                if resume < boundary:
                    async for ev in self._catch_up(resume, boundary):
                        if skip and ev.revision == last and ev.type != BOOKMARK:
                            skip -= 1
                            continue
                        last, at_last = ev.revision, at_last + 1 if ev.revision == last else 1
                        yield ev
                    if boundary > last:
                        last, at_last = boundary, 0
                while True:
                    item = await sub.queue.get()
                    if isinstance(item, _Overflow):
                        log.info("a %s watcher fell behind; resubscribing from %d",
                                 self.resource, last)
                        break
                    if isinstance(item, errors.ApiError):
                        raise item
                    if skip and item.revision == last and item.type != BOOKMARK:
                        skip -= 1
                        continue
                    if item.type == BOOKMARK:
                        last, at_last = item.revision, 0   # everything up to it delivered
                    else:
                        last, at_last = item.revision, at_last + 1 if item.revision == last else 1
                    yield item
            finally:
                self._subs.discard(sub)

    @property
    def watcher_count(self) -> int:
        return len(self._subs)
