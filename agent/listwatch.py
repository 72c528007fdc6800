"""List then watch a resource through the ApiPort, forever, like an informer.

A list hands over the full set; the watch then resumes from the last
resourceVersion seen (a stream the server ends is reopened from there). A
compacted version (ApiGone) or any failure relists, after a capped, jittered
back-off when the control plane is away. Used by the pod manager (the node's
pods) and the node's routes (every Node).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from agent.backoff import RetryBackoff
from agent.ports import ApiGone, ApiPort, ApiUnavailable
from proto import api_pb2, kinds


class Handler(Protocol):
    async def on_list(self, items: api_pb2.ObjectList) -> None:
        """The full set, after every (re)list."""
        ...

    async def on_event(self, ev: api_pb2.WatchEvent) -> None:
        """ADDED, MODIFIED or DELETED (bookmarks only move the resume point)."""
        ...


def _version(ev: api_pb2.WatchEvent) -> str:
    if ev.resource_version:
        return ev.resource_version
    if ev.object.WhichOneof("kind") is None:
        return ""
    return str(kinds.unwrap(ev.object).metadata.resource_version)  # type: ignore[attr-defined]


async def list_watch(api: ApiPort, resource: str, handler: Handler, retry: RetryBackoff,
                     log: logging.Logger, *, field_selector: str = "",
                     away_level: int = logging.INFO) -> None:
    """Forever (until cancelled). `away_level`: how loudly to log that the control
    plane cannot be reached."""
    need_list, rv = True, ""
    while True:
        try:
            if need_list:
                lst = await api.list(resource, field_selector=field_selector)
                rv = lst.resource_version
                need_list = False
                await handler.on_list(lst)
                retry.reset()
            async for ev in api.watch(resource, field_selector=field_selector,
                                      resource_version=rv):
                retry.reset()
                if ev.type != "BOOKMARK":
                    await handler.on_event(ev)
                rv = _version(ev) or rv
            # the server ended the stream: resume from the last revision
        except ApiGone:
            log.info("%s watch: resourceVersion %s is too old; relisting", resource, rv)
            need_list = True
        except asyncio.CancelledError:
            raise
        except ApiUnavailable as e:
            need_list = True
            delay = retry.next()
            log.log(away_level, "%s watch: control plane unreachable (%s); what runs keeps "
                    "running; retrying in %.1fs", resource, e, delay)
            await asyncio.sleep(delay)
        except Exception:
            need_list = True
            delay = retry.next()
            log.exception("%s list/watch failed; retrying in %.1fs", resource, delay)
            await asyncio.sleep(delay)
