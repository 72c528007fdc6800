"""The ConfigMaps and Secrets the node's pods reference, kept current by one list + watch
per object (field selector metadata.name=NAME in its namespace), like the kubelet's
"Watch" change-detection strategy; the node may read nothing else (node restriction).

    objects = ConfigObjects(api)
    objects.use(pod_uid, "default", refs, wake)     # the objects a pod needs; wake() on change
    obj = objects.lookup("secrets", "default", "db")  # None: it does not exist; NotSynced: not
                                                      # read yet
    objects.release(pod_uid)                          # the pod is gone: unwatch what no pod uses

A watch that breaks relists after a capped back-off, and keeps the last state it had
meanwhile (pods keep their files while the control plane is away). Values are never
logged, only names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.backoff import RetryBackoff
from agent.ports import ApiGone, ApiPort, ApiUnavailable
from proto import api_pb2, config_pb2
from proto.podrefs import Refs

log = logging.getLogger("corral.agent.podsync.configdata")

Key = tuple[str, str, str]          # (resource, namespace, name)
ConfigObject = config_pb2.ConfigMap | config_pb2.Secret


class NotSynced(LookupError):
    """The node has not read this object yet (its first list has not answered)."""


@dataclass
class _Entry:
    users: set[str] = field(default_factory=set)
    obj: ConfigObject | None = None
    synced: bool = False
    task: asyncio.Task[None] | None = None


def _unwrap(o: api_pb2.Object) -> ConfigObject | None:
    which = o.WhichOneof("kind")
    if which == "config_map":
        return o.config_map
    if which == "secret":
        return o.secret
    return None


class ConfigObjects:
    def __init__(self, api: ApiPort, retry_initial: float = 0.5,
                 retry_max: float = 10.0) -> None:
        self.api = api
        self.retry = (retry_initial, retry_max)
        self._entries: dict[Key, _Entry] = {}
        self._uses: dict[str, set[Key]] = {}
        self._wakes: dict[str, Callable[[], None]] = {}

    # ---- who needs what ---------------------------------------------------------------

    def use(self, pod_uid: str, namespace: str, refs: Refs,
            wake: Callable[[], None]) -> None:
        """The objects pod `pod_uid` needs now (replacing what it needed before)."""
        keys = {(res, namespace, name) for res in ("configmaps", "secrets")
                for name in refs.of(res)}
        self._wakes[pod_uid] = wake
        old = self._uses.get(pod_uid, set())
        if keys == old:
            return
        self._uses[pod_uid] = keys
        for key in keys - old:
            entry = self._entries.setdefault(key, _Entry())
            entry.users.add(pod_uid)
            if entry.task is None:
                entry.task = asyncio.ensure_future(self._follow(key, entry))
        for key in old - keys:
            self._drop(pod_uid, key)

    def release(self, pod_uid: str) -> None:
        for key in self._uses.pop(pod_uid, set()):
            self._drop(pod_uid, key)
        self._wakes.pop(pod_uid, None)

    def _drop(self, pod_uid: str, key: Key) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        entry.users.discard(pod_uid)
        if not entry.users:
            del self._entries[key]
            if entry.task is not None:
                entry.task.cancel()

    def lookup(self, resource: str, namespace: str, name: str) -> ConfigObject | None:
        entry = self._entries.get((resource, namespace, name))
        if entry is None or not entry.synced:
            raise NotSynced(f"{resource[:-1]} {namespace}/{name} has not been read yet")
        return entry.obj

    def unread(self, pod_uid: str) -> list[Key]:
        """The objects pod `pod_uid` uses that the node has not read yet."""
        return sorted(k for k in self._uses.get(pod_uid, set())
                      if not (e := self._entries.get(k)) or not e.synced)

    def watched(self) -> set[Key]:
        return set(self._entries)

    async def close(self) -> None:
        tasks = [e.task for e in self._entries.values() if e.task is not None]
        self._entries.clear()
        self._uses.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    # ---- keeping one object current -----------------------------------------------------

    def _set(self, key: Key, entry: _Entry, obj: ConfigObject | None) -> None:
        changed = not entry.synced or obj != entry.obj
        entry.obj, entry.synced = obj, True
        if not changed:
            return
        for uid in list(entry.users):
            wake = self._wakes.get(uid)
            if wake is not None:
                wake()

    async def _follow(self, key: Key, entry: _Entry) -> None:
        resource, namespace, name = key
        selector = f"metadata.name={name}"
        retry = RetryBackoff(*self.retry)
        need_list, rv = True, ""
        while True:
            try:
                if need_list:
                    lst = await self.api.list(resource, namespace, field_selector=selector)
                    rv, need_list = lst.resource_version, False
                    found = [_unwrap(o) for o in lst.items]
                    self._set(key, entry, found[0] if found else None)
                    retry.reset()
                async for ev in self.api.watch(resource, namespace, field_selector=selector,
                                               resource_version=rv):
                    retry.reset()
                    rv = ev.resource_version or rv
                    if ev.type in ("ADDED", "MODIFIED"):
                        self._set(key, entry, _unwrap(ev.object))
                    elif ev.type == "DELETED":
                        self._set(key, entry, None)
            except asyncio.CancelledError:
                raise
            except ApiGone:
                need_list = True
            except Exception as e:    # the control plane away, or refused: keep the last state
                need_list = True
                delay = retry.next()
                level = logging.INFO if isinstance(e, ApiUnavailable) else logging.WARNING
                log.log(level, "watching %s %s/%s failed (%s); retrying in %.1fs",
                        resource[:-1], namespace, name, e, delay)
                await asyncio.sleep(delay)       # back-off, not synchronisation
