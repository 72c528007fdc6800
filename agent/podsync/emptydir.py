"""emptyDir sizeLimit on disk: a periodic usage check that evicts the pod.

As the kubelet does: every `profile.volume_usage_interval` seconds, the
usage of each disk-backed emptyDir that has a sizeLimit is measured (a walk
with os.scandir, blocks allocated as `du` counts them, each inode once);
a pod whose volume is over its limit is evicted: its containers are killed,
its phase becomes Failed with reason Evicted and a message like
`Usage of EmptyDir volume "scratch" exceeds the limit "1Mi".` A controller
(ReplicaSet) then replaces it. Memory-backed emptyDirs are tmpfs mounts whose
size is the limit already.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Callable, Iterable
from typing import Protocol

from proto import core_pb2
from proto.quantity import QuantityError, to_bytes

log = logging.getLogger("corral.agent.emptydir")

EVICTED = "Evicted"


class Evictable(Protocol):
    @property
    def pod(self) -> core_pb2.Pod: ...
    @property
    def volume_paths(self) -> dict[str, str]:
        """emptyDir name -> its directory on the node."""
        ...
    @property
    def evicted(self) -> tuple[str, str] | None: ...
    @property
    def removed(self) -> bool: ...

    def evict(self, reason: str, message: str) -> None: ...


def disk_usage(path: str) -> int:
    """Bytes allocated under `path` (like `du -s --bytes` of blocks), not following
    symlinks, each hard-linked inode once; vanishing entries are skipped."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_blocks * 512
                if stat.S_ISDIR(st.st_mode):
                    stack.append(e.path)
    return total


def limits(pod: core_pb2.Pod) -> dict[str, tuple[int, str]]:
    """Disk-backed emptyDirs with a sizeLimit: name -> (bytes, the limit as written)."""
    out: dict[str, tuple[int, str]] = {}
    for v in pod.spec.volumes:
        if v.HasField("host_path") or v.empty_dir.medium == "Memory" \
                or not v.empty_dir.size_limit:
            continue
        try:
            out[v.name] = (to_bytes(v.empty_dir.size_limit), v.empty_dir.size_limit)
        except QuantityError:
            continue
    return out


def over_limit(pod: core_pb2.Pod, paths: dict[str, str],
               usage: Callable[[str], int] = disk_usage) -> str:
    """The eviction message for the first volume over its limit, else ""."""
    for name, (limit, written) in sorted(limits(pod).items()):
        path = paths.get(name)
        if path and usage(path) > limit:
            return f'Usage of EmptyDir volume "{name}" exceeds the limit "{written}".'
    return ""


async def check_once(workers: Iterable[Evictable],
                     usage: Callable[[str], int] = disk_usage) -> int:
    """One round over the workers; returns how many pods were evicted."""
    n = 0
    for w in list(workers):
        if w.evicted is not None or w.removed or not w.volume_paths or not limits(w.pod):
            continue
        msg = await asyncio.to_thread(over_limit, w.pod, dict(w.volume_paths), usage)
        if msg:
            log.info("evicting pod %s/%s: %s", w.pod.metadata.namespace, w.pod.metadata.name,
                     msg, extra={"pod": f"{w.pod.metadata.namespace}/{w.pod.metadata.name}"})
            w.evict(EVICTED, msg)
            n += 1
    return n


async def run(workers: Callable[[], Iterable[Evictable]], interval: float) -> None:
    """Forever: check every `interval` seconds (a period, not synchronisation)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await check_once(workers())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("checking emptyDir usage failed")
