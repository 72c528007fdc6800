"""Low-level etcd access shared by the store and its watch fan-out.

A connection to one of several endpoints (controlplane/store/etcdclient.py: aetcd's
client on a channel with TLS and etcd's require-leader on every call), the
translation of etcd/gRPC failures into `errors.ApiError`s, and a raw etcd watch
stream over one key prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

import aetcd
import grpc
from aetcd import rpc

from controlplane import errors
from controlplane.store.etcdclient import (
    EtcdClient,
    EtcdTLS,
    is_no_leader,
    parse_endpoint,
    split_endpoints,
)
from controlplane.store.keys import prefix_end
from controlplane.tasks import cancelled_from_outside

log = logging.getLogger(__name__)

MAX_MESSAGE = 256 * 1024 * 1024


class Compacted(Exception):
    """A watch asked for a revision etcd has compacted away."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"etcd compacted its history up to revision {compact_revision}")
        self.compact_revision = compact_revision


CLOSE_GRACE = 10.0


async def _close_later(client: aetcd.Client, delay: float) -> None:
    await asyncio.sleep(delay)      # a grace period, not synchronisation
    await client.close()


# etcd hands back its own context's end untranslated (status UNKNOWN) when our deadline
# ends inside the server first: a read waiting on a leader that is gone, for one
SERVER_TIMEOUTS = ("context deadline exceeded", "context canceled")


def timed_out_in_etcd(code: grpc.StatusCode, detail: str) -> bool:
    """Whether etcd answered that the call's time ran out on its side."""
    return code == grpc.StatusCode.UNKNOWN and any(t in detail for t in SERVER_TIMEOUTS)


class Connection:
    """A client for a list of etcd endpoints ("host:port", "https://host:port" with
    `tls`); moves on to the next when one is down or has no leader."""

    def __init__(self, endpoints: str | Sequence[str], timeout: float = 5.0,
                 tls: EtcdTLS | None = None) -> None:
        endpoints = split_endpoints(endpoints if isinstance(endpoints, str)
                                    else list(endpoints))
        if not endpoints:
            raise ValueError("no etcd endpoint given")
        self.tls = tls
        for e in endpoints:
            parse_endpoint(e, tls)    # EtcdEndpointError before anything connects
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self._index = 0
        self._client: aetcd.Client | None = None
        self.open_watches = 0  # etcd watches open right now (fan-out plus catch-up)
        # metrics hook: observe(what, seconds, ok) after every guarded etcd request
        self.observe: Callable[[str, float, bool], None] | None = None

    @property
    def endpoint(self) -> str:
        return self.endpoints[self._index]

    def set_endpoints(self, endpoints: Sequence[str]) -> None:
        """Follow a membership change: the current endpoint stays first if still listed."""
        new = [e for e in endpoints if e]
        if not new or new == self.endpoints:
            return
        for e in new:
            parse_endpoint(e, self.tls)
        current = self.endpoints[self._index]
        if current in new:
            self.endpoints, self._index = new, new.index(current)
        else:
            self.endpoints, self._index = new, 0
            self._drop()

    async def client(self) -> aetcd.Client:
        if self._client is None:
            self._client = EtcdClient(
                self.endpoint, tls=self.tls, timeout=self.timeout,
                options={"grpc.max_receive_message_length": MAX_MESSAGE,
                         "grpc.max_send_message_length": MAX_MESSAGE,
                         # come back quickly once etcd is up again
                         "grpc.initial_reconnect_backoff_ms": 200,
                         "grpc.min_reconnect_backoff_ms": 200,
                         "grpc.max_reconnect_backoff_ms": 2000})
            await self._client.connect()
        return self._client

    async def kv(self) -> rpc.KVStub:
        return (await self.client()).kvstub

    async def channel(self) -> grpc.aio.Channel:
        ch: grpc.aio.Channel = (await self.client()).channel
        return ch

    def failover(self) -> None:
        """Use the next endpoint for the following calls (the channel is dropped lazily)."""
        if len(self.endpoints) > 1:
            self._index = (self._index + 1) % len(self.endpoints)
            self._drop()

    def _drop(self) -> None:
        """Stop using the current client; close it after CLOSE_GRACE seconds, so that the
        calls still on it end by themselves (a closed channel cancels its calls)."""
        old, self._client = self._client, None
        if old is not None:
            task = asyncio.get_running_loop().create_task(_close_later(old, CLOSE_GRACE))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.close()

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Translate etcd failures during `what` into ApiErrors (and time the request)."""
        t0, ok = time.monotonic(), False
        try:
            yield
            ok = True
        except errors.ApiError:
            raise
        except asyncio.CancelledError as e:
            if cancelled_from_outside():
                raise
            # gRPC cancels the calls of a channel closed under them (a failover)
            raise errors.Unavailable(f"etcd call cancelled ({what}): its connection was "
                                     "replaced; retry") from e
        except grpc.aio.AioRpcError as e:
            raise self.translate(e, what) from e
        except aetcd.exceptions.ClientError as e:
            cause = e.__cause__
            if isinstance(cause, grpc.aio.AioRpcError):
                raise self.translate(cause, what) from e
            self.failover()
            raise errors.Unavailable(
                f"etcd at {self.endpoint} is unavailable ({what}): {e}; retry later") from e
        finally:
            if self.observe is not None:
                self.observe(what, time.monotonic() - t0, ok)

    def translate(self, e: grpc.aio.AioRpcError, what: str) -> errors.ApiError:
        code, detail = e.code(), e.details() or ""
        if "required revision has been compacted" in detail:
            return errors.Gone(f"{what}: the resourceVersion is too old: etcd compacted its "
                               "history past it; read again without one")
        if "required revision is a future revision" in detail:
            return errors.Gone(f"{what}: too large resource version: the store has not "
                               "reached it; read again without one")
        if "too large" in detail or code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return errors.TooLarge(f"{what}: etcd refused the request: {detail}")
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                    grpc.StatusCode.CANCELLED) or timed_out_in_etcd(code, detail):
            endpoint = self.endpoint
            if is_no_leader(e):
                # the member answers, it is cut off from its peers: so are we, most likely
                # (we share its machine); the others are as far away, and it answers fast
                return errors.NoLeader(
                    f"etcd at {endpoint} has no leader ({what}): this control plane is cut "
                    "off from the majority of the etcd members; retry on another member")
            self.failover()
            return errors.Unavailable(
                f"etcd at {endpoint} is unavailable ({what}): {detail or code.name}; "
                "retry later")
        if code == grpc.StatusCode.OUT_OF_RANGE:     # a read at a compacted revision
            return errors.Gone(f"{what}: etcd no longer has that revision: {detail}")
        return errors.ApiError(f"etcd error during {what}: {code.name}: {detail}")

    async def revision(self) -> int:
        """The current revision of the whole store."""
        with self.guard("reading the current revision"):
            resp = await (await self.kv()).Range(
                rpc.RangeRequest(key=b"\x00", limit=1, count_only=True), timeout=self.timeout)
        rev: int = resp.header.revision
        return rev

    async def watch(self, key_prefix: bytes, start_revision: int,
                    ) -> AsyncIterator[tuple[int, Sequence[rpc.Event]]]:
        """One etcd watch on a prefix from `start_revision` (inclusive), with prev_kv.

        Yields (progress revision or 0, events); (0, []) first, once etcd created the
        watch. Raises Compacted, errors.NoLeader when the member lost its leader, or
        grpc.aio.AioRpcError when etcd goes away.
        """
        stop = asyncio.Event()
        create = rpc.WatchCreateRequest(
            key=key_prefix, range_end=prefix_end(key_prefix), start_revision=start_revision,
            prev_kv=True, progress_notify=True)

        async def requests() -> AsyncIterator[rpc.WatchRequest]:
            yield rpc.WatchRequest(create_request=create)
            await stop.wait()

        stub = rpc.WatchStub(await self.channel())
        call = stub.Watch(requests())
        self.open_watches += 1
        try:
            async for resp in call:
                if resp.compact_revision:
                    raise Compacted(resp.compact_revision)
                if resp.canceled:
                    if is_no_leader(Exception(resp.cancel_reason)):
                        raise errors.NoLeader(f"etcd canceled a watch: {resp.cancel_reason}")
                    raise errors.Unavailable(f"etcd canceled a watch: {resp.cancel_reason}")
                if resp.created and not resp.events:
                    yield 0, ()
                    continue
                progress = 0 if resp.events else resp.header.revision
                yield progress, resp.events
        finally:
            self.open_watches -= 1
            stop.set()
            call.cancel()
