"""Periodic compaction of etcd's history, like Kubernetes' API server does.

Every `interval` seconds, compact up to the revision seen one interval ago:
watchers always have at least one interval of history to resume from; older
resourceVersions answer errors.Gone and their watchers relist.
"""

from __future__ import annotations

import asyncio
import logging

from controlplane import errors
from controlplane.store.etcd_store import Store

log = logging.getLogger(__name__)


async def run_compactor(store: Store, interval: float = 300.0) -> None:
    """Run until cancelled. Several control planes may run it at once: harmless."""
    previous = 0
    while True:
        await asyncio.sleep(interval)
        try:
            current = await store.revision()
            if previous:
                await store.compact(previous)
                log.info("compacted etcd history up to revision %d", previous)
            previous = current
        except errors.ApiError as e:
            # "required revision has been compacted": another replica was first
            log.debug("compaction skipped: %s", e)
            previous = 0
