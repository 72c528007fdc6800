"""The seam between pods/portforward (portforward.py) and whatever reaches a pod's port:
a connection to one port of one pod, as a byte stream both ways."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol


class PodConn(Protocol):
    """A TCP connection to a port of a pod."""

    async def read(self) -> bytes: ...          # b"": the pod closed its side
    async def write(self, data: bytes) -> None: ...
    async def close_write(self) -> None: ...
    async def close(self) -> None: ...


class PodDialer(Protocol):
    """Connect to `port` of a pod; raises errors.ApiError (or any error, whose words are
    shown) when it cannot."""

    def __call__(self, namespace: str, pod: str, port: int) -> Awaitable[PodConn]: ...
