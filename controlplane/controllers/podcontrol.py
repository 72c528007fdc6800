"""PodControl: create and delete a controller's pods, as Kubernetes' controllers do.

Each call registers its expectations first, runs the API calls concurrently, records
one event per pod (SuccessfulCreate/FailedCreate, SuccessfulDelete) and, when a call
fails, lowers the expectation it raised so the controller does not wait for a pod
that will never appear or vanish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from controlplane import errors, events
from controlplane.client import Client
from proto import api_pb2, core_pb2

from .podutil import Expectations

log = logging.getLogger(__name__)


class PodControl:
    def __init__(self, client: Client, recorder: events.EventRecorder,
                 expectations: Expectations, kind: str) -> None:
        self.client = client
        self.recorder = recorder
        self.expectations = expectations
        self.kind = kind   # for log lines: "job", "daemonset"

    async def create(self, owner: api_pb2.Object, key: str,
                     pods: Iterable[api_pb2.Object]) -> None:
        """Create pods (Objects holding a pod) owned by owner."""
        todo = list(pods)
        if not todo:
            return
        self.expectations.expect(key, adds=len(todo))

        async def one(p: api_pb2.Object) -> None:
            try:
                made = await self.client.create(p)
                self.recorder.record(owner, events.NORMAL, "SuccessfulCreate",
                                     f"Created pod: {made.pod.metadata.name}")
            except Exception as e:
                self.expectations.creation_failed(key)
                log.warning("%s %s: creating a pod failed: %s", self.kind, key, e)
                self.recorder.record(owner, events.WARNING, "FailedCreate",
                                     f"Error creating: {e}")

        await asyncio.gather(*(one(p) for p in todo))

    async def delete(self, owner: api_pb2.Object, key: str,
                     pods: list[core_pb2.Pod]) -> None:
        if not pods:
            return
        names = [f"{p.metadata.namespace}/{p.metadata.name}" for p in pods]
        self.expectations.expect(key, dels=names)

        async def one(p: core_pb2.Pod, pk: str) -> None:
            try:
                await self.client.delete("pods", p.metadata.namespace, p.metadata.name)
                self.recorder.record(owner, events.NORMAL, "SuccessfulDelete",
                                     f"Deleted pod: {p.metadata.name}")
            except Exception as e:
                self.expectations.deletion_observed(key, pk)
                if not isinstance(e, errors.NotFound):
                    log.warning("%s %s: deleting %s failed: %s", self.kind, key, pk, e)

        await asyncio.gather(*(one(p, k) for p, k in zip(pods, names, strict=True)))
