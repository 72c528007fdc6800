"""The build cache: which layer a step made, keyed like BuildKit's.

A step's key is the sha256 of its parent's key and what the step is: the
instruction with its arguments expanded, plus what else decides its result
(RUN: the environment, user, working directory, shell and network; COPY/ADD:
the digest of the copied files). The chain starts at the base image's id, so
a new base, a changed instruction or a changed copied file makes that step
and every later one a miss, while an unchanged build is all hits.

The index is one small JSON file per key under <agent data>/build/cache/
(written atomically): {"diff_id", "digest", "size", "media_type", "created"}
or {"empty": true, "created"} for a step that changed no file. A hit is used
only while the image store still has the layer (GC may have taken it).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from common.files import write_json_atomic


def chain(parent: str, *parts: str) -> str:
    h = hashlib.sha256(parent.encode())
    for p in parts:
        h.update(b"\0" + p.encode())
    return h.hexdigest()


class BuildCache:
    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, mode=0o700, exist_ok=True)

    def _path(self, key: str) -> str:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"bad cache key {key!r}")
        return os.path.join(self.root, key)

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            with open(self._path(key)) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        write_json_atomic(self._path(key), entry)
