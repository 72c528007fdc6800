"""Streaming sha256 with size checks: nothing is trusted before it is hashed.

`verify_copy` streams a source into a destination file while hashing and
counting; it stops as soon as the source runs past the expected size (so a
lying server cannot fill the disk) and raises DigestMismatch / SizeMismatch
at the end. Digests are "sha256:<64 hex>"; other algorithms are Unsupported.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import BinaryIO, Protocol

from agent.images.errors import DigestMismatch, SizeMismatch, Unsupported

CHUNK = 1 << 20
_SHA256 = re.compile(r"sha256:[a-f0-9]{64}")


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def check_digest(digest: str) -> str:
    """Return the hex part of a sha256 digest; Unsupported for anything else."""
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise Unsupported(f"unsupported or malformed digest {digest!r} (only sha256:<64 hex>)")
    return digest[len("sha256:") :]


def sha256_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            n += len(chunk)
    return "sha256:" + h.hexdigest(), n


def verify_bytes(data: bytes, digest: str | None, size: int | None, what: str) -> None:
    if size is not None and len(data) != size:
        raise SizeMismatch(f"{what}: got {len(data)} bytes, expected {size}")
    if digest is not None:
        check_digest(digest)
        got = sha256_bytes(data)
        if got != digest:
            raise DigestMismatch(f"{what}: content has digest {got}, expected {digest}")


def verify_copy(
    src: Readable,
    dst: BinaryIO,
    digest: str | None,
    size: int | None,
    what: str,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[str, int]:
    """Copy src to dst, hashing; return (digest, size). Raise on any mismatch."""
    if digest is not None:
        check_digest(digest)
    h = hashlib.sha256()
    n = 0
    while True:
        want = CHUNK if size is None else min(CHUNK, size - n + 1)
        chunk = src.read(max(want, 1))
        if not chunk:
            break
        n += len(chunk)
        if size is not None and n > size:
            raise SizeMismatch(f"{what}: more than the expected {size} bytes")
        h.update(chunk)
        dst.write(chunk)
        if on_bytes is not None:
            on_bytes(n)
    if size is not None and n != size:
        raise SizeMismatch(f"{what}: got {n} bytes, expected {size}")
    got = "sha256:" + h.hexdigest()
    if digest is not None and got != digest:
        raise DigestMismatch(f"{what}: content has digest {got}, expected {digest}")
    return got, n


class HashingWriter:
    """A write-only file object that hashes and counts what passes into `inner`."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.inner.write(data)
        return len(data)

    def flush(self) -> None:
        self.inner.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()
