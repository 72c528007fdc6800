"""The scheduler's binds, several in one etcd transaction when they queue up.

``await binder.bind(pod_obj, node)`` behaves like ``Client.bind`` with the
pod's resourceVersion (the informer's copy, so no read first). Binds wait in
a queue; at most ``max_in_flight`` writes are outstanding, and each takes
whatever queued meanwhile (up to ``max_batch``) and writes it with
``Client.bind_all``: one transaction, every pod compare-and-swap on its
resourceVersion. If that fails as a whole (a pod changed: Conflict, or the
client cannot batch: BadRequest), each pod of the batch is bound on its own
and gets its own answer (Conflict, NotFound, ...). A lone bind is written at once.
"""

from __future__ import annotations

import asyncio
import logging

from controlplane import errors
from controlplane.client import Client
from proto import api_pb2

log = logging.getLogger(__name__)

Pending = tuple[api_pb2.Object, str, "asyncio.Future[api_pb2.Object]"]


class Binder:
    def __init__(self, client: Client, *, max_batch: int = 32, max_in_flight: int = 4) -> None:
        self.client = client
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._pending: list[Pending] = []
        self._writers: set[asyncio.Task[None]] = set()
        self.batches = 0          # transactions that bound more than one pod
        self.batched = 0          # pods bound that way

    async def bind(self, obj: api_pb2.Object, node: str) -> api_pb2.Object:
        fut: asyncio.Future[api_pb2.Object] = asyncio.get_running_loop().create_future()
        self._pending.append((obj, node, fut))
        self._kick()
        return await fut

    async def close(self) -> None:
        for t in list(self._writers):
            t.cancel()
        if self._writers:
            await asyncio.wait(self._writers, timeout=5.0)
        for _, _, fut in self._pending:
            fut.cancel()
        self._pending.clear()

    def _kick(self) -> None:
        if self._pending and len(self._writers) < self.max_in_flight:
            task = asyncio.create_task(self._write())
            self._writers.add(task)
            task.add_done_callback(self._writer_done)

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        self._writers.discard(task)
        self._kick()

    async def _write(self) -> None:
        # runs after the scheduler yielded: take what queued up meanwhile
        batch = [p for p in self._pending[:self.max_batch] if not p[2].done()]
        del self._pending[:self.max_batch]
        if not batch:
            return
        if len(batch) > 1:
            try:
                bound = await self.client.bind_all([(obj, node) for obj, node, _ in batch])
            except (errors.Conflict, errors.NotFound, errors.BadRequest) as e:
                log.debug("batch of %d binds: %s; one at a time", len(batch), e)
            except Exception as e:   # etcd trouble: every bind of the batch fails with it
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
                return
            else:
                self.batches += 1
                self.batched += len(batch)
                for (_, _, fut), obj in zip(batch, bound, strict=True):
                    if not fut.done():
                        fut.set_result(obj)
                return
        await asyncio.gather(*(self._one(*p) for p in batch))

    async def _one(self, obj: api_pb2.Object, node: str,
                   fut: asyncio.Future[api_pb2.Object]) -> None:
        m = obj.pod.metadata
        try:
            out = await self.client.bind(m.namespace, m.name, node,
                                           resource_version=m.resource_version, current=obj)
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except Exception as e:
            if not fut.done():
                fut.set_exception(e)
        else:
            if not fut.done():
                fut.set_result(out)
