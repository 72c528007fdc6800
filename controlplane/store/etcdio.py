"""Low-level etcd access shared by the store and its watch fan-out.

A connection to one of several endpoints (aetcd's client for the channel and
stubs), the translation of etcd/gRPC failures into `errors.ApiError`s, and a
raw etcd watch stream over one key prefix.
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
from controlplane.store.keys import prefix_end

log = logging.getLogger(__name__)

MAX_MESSAGE = 256 * 1024 * 1024


class Compacted(Exception):
    """A watch asked for a revision etcd has compacted away."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"etcd compacted its history up to revision {compact_revision}")
        self.compact_revision = compact_revision


class Connection:
    """A client for a list of etcd endpoints ("host:port"); moves on when one is down."""

    def __init__(self, endpoints: str | Sequence[str], timeout: float = 5.0) -> None:
        if isinstance(endpoints, str):
            endpoints = [e.strip() for e in endpoints.split(",") if e.strip()]
        if not endpoints:
            raise ValueError("no etcd endpoint given")
        self.endpoints = [e.removeprefix("http://") for e in endpoints]
        self.timeout = timeout
        self._index = 0
        self._client: aetcd.Client | None = None
        self.open_watches = 0  # etcd watches open right now (fan-out plus catch-up)
        # metrics hook: observe(what, seconds, ok) after every guarded etcd request
        self.observe: Callable[[str, float, bool], None] | None = None

    @property
    def endpoint(self) -> str:
        return self.endpoints[self._index]

    async def client(self) -> aetcd.Client:
        if self._client is None:
            host, _, port = self.endpoint.rpartition(":")
            self._client = aetcd.Client(
                host=host or "127.0.0.1", port=int(port), timeout=self.timeout,
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
            old, self._client = self._client, None
            self._index = (self._index + 1) % len(self.endpoints)
            if old is not None:
                task = asyncio.get_running_loop().create_task(old.close())
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
                    grpc.StatusCode.CANCELLED):
            endpoint = self.endpoint
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

        Yields (progress revision or 0, events). Raises Compacted, or
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
                    raise errors.Unavailable(f"etcd canceled a watch: {resp.cancel_reason}")
                if resp.created and not resp.events:
                    continue
                progress = 0 if resp.events else resp.header.revision
                yield progress, resp.events
        finally:
            self.open_watches -= 1
            stop.set()
            call.cancel()
