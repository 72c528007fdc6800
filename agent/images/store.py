"""The content store: verified blobs by digest and image records, in the agent data dir.

Layout under `root` (e.g. <agent data dir>/images):

    blobs/sha256/<hex>    manifests, configs and (compressed) layer blobs
    tmp/                  temp files; same filesystem, so renames are atomic
    images.json           image records: normalised reference -> record

A blob is written to tmp/, hashed and size-checked while streaming, fsynced
and renamed to blobs/sha256/<hex>; a failure at any point removes the temp
file, so nothing is ever stored under a digest it does not have. Writers of
one digest are serialised by a per-key lock (`lock(key)`), so two pulls of one
image at once fetch each blob once: the second finds it present.

An image record is a dict: {"digest": what the reference resolved to (an
index or manifest digest), "manifest": the platform manifest digest,
"config": the config digest, "created": unix time, "last_used": unix time}.
The store is thread-safe within one process; one agent owns a data dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from agent.images.digest import Readable, check_digest, sha256_bytes, verify_bytes, verify_copy
from agent.images.errors import ImageError
from common.files import write_json_atomic

MAX_METADATA = 4 << 20
TOUCH_GRANULARITY = 60.0    # seconds: how stale an image's last_used may be


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.blobs_dir = os.path.join(self.root, "blobs", "sha256")
        self.tmp_dir = os.path.join(self.root, "tmp")
        self._records_path = os.path.join(self.root, "images.json")
        for d in (self.blobs_dir, self.tmp_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self._mu = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._touched: dict[str, float] = {}     # record name -> when touch_record wrote it
        self._clean_tmp()

    # -- locking -----------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Serialise work on one key (a digest); locks are freed when unused."""
        with self._mu:
            lk, n = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lk, n + 1)
        try:
            with lk:
                yield
        finally:
            with self._mu:
                lk, n = self._locks[key]
                if n <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lk, n - 1)

    # -- blobs -------------------------------------------------------------------

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.blobs_dir, check_digest(digest))

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        try:
            st = os.stat(self.blob_path(digest))
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def blob_size(self, digest: str) -> int:
        return os.stat(self.blob_path(digest)).st_size

    def open_blob(self, digest: str) -> BinaryIO:
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise ImageError(f"blob {digest} is not in the content store") from None

    def read_blob(self, digest: str, limit: int = MAX_METADATA) -> bytes:
        with self.open_blob(digest) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ImageError(f"blob {digest} is larger than {limit} bytes")
        return data

    def list_blobs(self) -> list[str]:
        return ["sha256:" + n for n in os.listdir(self.blobs_dir) if len(n) == 64]

    def remove_blob(self, digest: str) -> int:
        path = self.blob_path(digest)
        try:
            size = os.stat(path).st_size
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return size

    @contextlib.contextmanager
    def temp_file(self, suffix: str = "") -> Iterator[tuple[str, BinaryIO]]:
        """A temp file in tmp/, removed on exit unless it was renamed away."""
        fd, path = tempfile.mkstemp(dir=self.tmp_dir, suffix=suffix)
        f = os.fdopen(fd, "w+b")
        try:
            yield path, f
        finally:
            f.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def write_blob(
        self,
        src: Readable,
        digest: str | None,
        size: int | None,
        what: str = "blob",
        on_bytes: Callable[[int], None] | None = None,
    ) -> tuple[str, int]:
        """Stream src into the store, verified; return (digest, size).

        With digest None the content's own digest is used (local imports).
        """
        with self.temp_file() as (path, f):
            got, n = verify_copy(src, f, digest, size, what, on_bytes)
            self._commit(path, f, got)
        return got, n

    def put_bytes(self, data: bytes, digest: str | None = None, what: str = "blob") -> str:
        verify_bytes(data, digest, None, what)
        got = sha256_bytes(data)
        if self.has_blob(got, len(data)):
            return got
        with self.temp_file() as (path, f):
            f.write(data)
            self._commit(path, f, got)
        return got

    def commit_file(self, path: str, f: BinaryIO, digest: str) -> None:
        """Move a temp file (already verified to hold `digest`) into the store."""
        self._commit(path, f, digest)

    def _commit(self, path: str, f: BinaryIO, digest: str) -> None:
        f.flush()
        os.fsync(f.fileno())
        os.chmod(path, 0o644)
        final = self.blob_path(digest)
        os.rename(path, final)
        dfd = os.open(self.blobs_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _clean_tmp(self) -> None:
        for name in os.listdir(self.tmp_dir):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.tmp_dir, name))

    def temp_files(self) -> list[str]:
        return sorted(os.listdir(self.tmp_dir))

    # -- image records -----------------------------------------------------------

    def records(self) -> dict[str, dict[str, Any]]:
        with self._mu:
            return self._load()

    def get_record(self, name: str) -> dict[str, Any] | None:
        return self.records().get(name)

    def set_record(self, name: str, record: dict[str, Any]) -> None:
        with self._mu:
            data = self._load()
            old = data.get(name, {})
            record = {**record, "created": old.get("created", time.time())}
            record.setdefault("last_used", time.time())
            data[name] = record
            self._save(data)

    def touch_record(self, name: str) -> None:
        """Mark an image used now, for the garbage collector's LRU order. Called on every
        container start; a record touched within TOUCH_GRANULARITY is not rewritten (the
        records file is rewritten and fsynced each time), since LRU needs no finer clock."""
        now = time.time()
        with self._mu:
            if now - self._touched.get(name, 0.0) < TOUCH_GRANULARITY:
                return
            data = self._load()
            if name in data:
                data[name]["last_used"] = now
                self._save(data)
                self._touched[name] = now

    def delete_record(self, name: str) -> bool:
        with self._mu:
            data = self._load()
            if data.pop(name, None) is None:
                return False
            self._save(data)
            return True

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self._records_path) as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, dict[str, Any]]) -> None:
        # fsync'd: a lost record would leave its blobs and layers to the next prune
        write_json_atomic(self._records_path, data, indent=1)
