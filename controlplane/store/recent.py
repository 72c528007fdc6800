"""The latest versions this process has seen of recently touched objects.

    recent = RecentVersions(4096)
    recent.remember(key, revision, data)      # from a write, a read or a watch event
    data = recent.at(key, revision)           # the stored bytes at exactly that revision, or None

An etcd key's value at a given mod revision never changes, so the bytes seen at
(key, revision) are what etcd holds for that key at that revision: a write that
comes with the resourceVersion the client read (an agent's status update, a
lease renewal) can build on them instead of reading the object again, and still
writes with CAS on that revision (a changed object is a Conflict as before).
Bounded (least recently remembered first out); the values kept are the stored
bytes of resources without a value transformer (never a Secret's plaintext).
"""

from __future__ import annotations

from collections import OrderedDict


class RecentVersions:
    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[bytes, tuple[int, bytes]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def remember(self, key: bytes, revision: int, data: bytes) -> None:
        if self.size <= 0:
            return
        items = self._items
        old = items.get(key)
        if old is not None:
            if old[0] > revision:
                return   # an older event arriving after a newer write: keep the newer
            items.move_to_end(key)
        items[key] = (revision, data)
        if len(items) > self.size:
            items.popitem(last=False)

    def forget(self, key: bytes) -> None:
        self._items.pop(key, None)

    def at(self, key: bytes, revision: int) -> bytes | None:
        got = self._items.get(key)
        if got is None or got[0] != revision:
            self.misses += 1
            return None
        self.hits += 1
        return got[1]

    def __len__(self) -> int:
        return len(self._items)
