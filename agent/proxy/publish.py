"""This node's proxy revision, on its Node: annotation proxy.corral.dev/synced-revision.

The proxier calls `publisher(revision)` after every sync; the publisher writes
the latest value to the node's own Node object (node restriction allows an
agent to annotate its own Node), one write at a time, skipping values already
written. A pod about to stop waits until every Ready node's value reaches the
EndpointSlice revision that took the pod out of its Services (agent/drain.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent.backoff import RetryBackoff
from agent.ports import ApiConflict, ApiNotFound, ApiPort, ApiUnavailable
from proto import core_pb2

log = logging.getLogger("corral.agent.proxy")

ANNOTATION = "proxy.corral.dev/synced-revision"


def revision_of(node: core_pb2.Node) -> int | None:
    """The revision a Node's annotation names (None: no proxy reports there)."""
    value = node.metadata.annotations.get(ANNOTATION, "")
    return int(value) if value.isdigit() else None


class SyncedRevision:
    """`seen()`: the annotation as the node's own watch has it now (None: the Node is
    not known), so a Node that was deleted and registered again gets it back."""

    def __init__(self, api: ApiPort, node_name: str, backoff: RetryBackoff,
                 seen: Callable[[], str | None] = lambda: None) -> None:
        self.api = api
        self.node_name = node_name
        self.backoff = backoff
        self.seen = seen
        self._want = ""
        self._written = ""
        self._wake = asyncio.Event()

    def __call__(self, revision: str) -> None:
        if revision and (revision != self._want or self.seen() != revision):
            self._want = revision
            self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            want = self._want
            if want == self._written and self.seen() in (None, want):
                continue
            try:
                await self._write(want)
                self._written = want
                self.backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as e:    # unreachable, a lost race (even one the node
                # restriction answers before the CAS, like a podCIDR assigned meanwhile):
                # read the Node again later; publishing must never stop the agent
                delay = self.backoff.next()
                level = logging.DEBUG if isinstance(e, ApiUnavailable | ApiConflict) \
                    else logging.WARNING
                log.log(level, "publishing the proxy revision: %s; retrying in %.1fs", e,
                        delay)
                await asyncio.sleep(delay)
                self._wake.set()

    async def _write(self, revision: str) -> None:
        for _ in range(5):
            try:
                obj = await self.api.get("nodes", "", self.node_name)
            except ApiNotFound:
                return          # not registered (yet, or removed): nothing to annotate
            meta = obj.node.metadata
            if meta.annotations.get(ANNOTATION) == revision:
                return
            meta.annotations[ANNOTATION] = revision
            try:
                await self.api.update(obj)
                return
            except ApiConflict:
                continue
        raise ApiConflict(f"node {self.node_name} keeps changing")
